// Option readers shared by the rule types, and small text helpers.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/rule_impl.h"

int ropt_require(const cJSON *r, const char *key, char *err, size_t errlen) {
    if (cJSON_GetObjectItemCaseSensitive(r, key)) return 0;
    snprintf(err, errlen, "missing option '%s'", key);
    return -1;
}

int ropt_number(const cJSON *r, const char *key, double lo, double hi, double *out, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
        snprintf(err, errlen, "option '%s' must be a number in [%g, %g]", key, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

int ropt_int(const cJSON *r, const char *key, long lo, long hi, long *out, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi) {
        snprintf(err, errlen, "option '%s' must be a whole number in [%ld, %ld]", key, lo, hi);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 0;
}

int ropt_bool(const cJSON *r, const char *key, int *out, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(err, errlen, "option '%s' must be true or false", key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

int ropt_string(const cJSON *r, const char *key, const char **out, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
    if (!v) return 0;
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        snprintf(err, errlen, "option '%s' must be a non-empty string", key);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

const char *rin_field_text(const cJSON *example, const char *key, char *buf, size_t bn) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(example, key);
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsNumber(v) && bn) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15) snprintf(buf, bn, "%.0f", d);
        else // the shortest form that reads back as the same double: 0.1, not 0.10000000000000001
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, bn, "%.*g", prec, d);
                if (strtod(buf, NULL) == d) break;
            }
        return buf;
    }
    return NULL;
}

void rin_one_line(char *dst, size_t dn, const char *src, size_t max_src) {
    if (!dn) return;
    size_t k = 0;
    for (size_t i = 0; src[i] && i < max_src && k + 1 < dn; i++)
        dst[k++] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
    dst[k] = '\0';
}
