// Normalising an answer before parsing: LaTeX spacing and sizing commands,
// \text{} wrappers, units, degrees, currency, percent, thousands separators,
// unicode symbols and number words all become (or vanish into) plain tokens.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rewards/math_internal.h"

typedef struct { char *p; size_t n, cap; int oom; } Sb;

static void sb_putn(Sb *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_puts(Sb *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(Sb *b, char c) { sb_putn(b, &c, 1); }

// Replaces every `from` by `to` in *s (a malloc'd string). When word is set a
// `from` ending in a letter must not be followed by a letter (\left vs \leftarrow).
static int replace_all(char **s, const char *from, const char *to, int word) {
    size_t fl = strlen(from);
    if (!strstr(*s, from)) return 0;
    Sb b = {0};
    sb_puts(&b, "");
    for (const char *p = *s; *p;) {
        if (strncmp(p, from, fl) == 0 && !(word && isalpha((unsigned char)from[fl - 1]) && isalpha((unsigned char)p[fl]))) {
            sb_puts(&b, to);
            p += fl;
        } else sb_putc(&b, *p++);
    }
    if (b.oom) { free(b.p); return -1; }
    free(*s);
    *s = b.p;
    return 0;
}

// \cmd{X} -> pre X post, for every occurrence (innermost wrappers too).
static int unwrap_cmd(char **s, const char *cmd, const char *pre, const char *post) {
    size_t cl = strlen(cmd);
    for (int guard = 0; guard < 10000; guard++) {
        char *p = strstr(*s, cmd);
        while (p && isalpha((unsigned char)p[cl])) p = strstr(p + 1, cmd);
        if (!p) return 0;
        char *q = p + cl;
        while (*q == ' ') q++;
        if (*q != '{') { // \text X without braces: drop the command only
            memmove(p, p + cl, strlen(p + cl) + 1);
            continue;
        }
        int depth = 0;
        char *e = q;
        for (; *e; e++) {
            if (*e == '\\' && e[1]) { e++; continue; }
            if (*e == '{') depth++;
            else if (*e == '}' && --depth == 0) break;
        }
        Sb b = {0};
        sb_putn(&b, *s, (size_t)(p - *s));
        sb_puts(&b, pre);
        if (*e) {
            sb_putn(&b, q + 1, (size_t)(e - q - 1));
            sb_puts(&b, post);
            sb_puts(&b, e + 1);
        } else { // unbalanced: keep the rest as it is
            sb_puts(&b, q + 1);
        }
        if (b.oom) { free(b.p); return -1; }
        free(*s);
        *s = b.p;
    }
    return 0;
}

static const char *const units[] = {
    "cm", "mm", "km", "m", "meter", "meters", "metre", "metres", "centimeter", "centimeters",
    "millimeter", "millimeters", "kilometer", "kilometers", "in", "inch", "inches", "ft", "foot",
    "feet", "yd", "yard", "yards", "mile", "miles", "mi", "g", "kg", "mg", "gram", "grams",
    "kilogram", "kilograms", "lb", "lbs", "pound", "pounds", "oz", "ounce", "ounces", "l", "ml",
    "liter", "liters", "litre", "litres", "gallon", "gallons", "s", "sec", "secs", "second",
    "seconds", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "day", "days",
    "week", "weeks", "month", "months", "year", "years", "dollar", "dollars", "cent", "cents",
    "usd", "euro", "euros", "unit", "units", "degree", "degrees", "deg", "square", "sq", "cubic",
    "per", "mph", "kmh", "percent", "radian", "radians", "rad", NULL};

static int is_unit(const char *w, size_t n) {
    for (int i = 0; units[i]; i++)
        if (strlen(units[i]) == n && strncasecmp(units[i], w, n) == 0) return 1;
    return 0;
}

// Drops trailing unit words ("5 cm^2", "12 miles per hour") after a number.
static void strip_units(char *s) {
    for (;;) {
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ') s[--n] = 0;
        size_t e = n;
        // optional ^2 / ^{3} after the unit
        if (e >= 2 && isdigit((unsigned char)s[e - 1]) && s[e - 2] == '^') e -= 2;
        else if (e >= 4 && s[e - 1] == '}' && isdigit((unsigned char)s[e - 2]) && s[e - 3] == '{' && s[e - 4] == '^') e -= 4;
        while (e < n && e > 0 && s[e - 1] == ' ') e--;
        size_t w = e;
        while (w > 0 && isalpha((unsigned char)s[w - 1])) w--;
        if (w == e || !is_unit(s + w, e - w)) return;
        if (w > 0 && s[w - 1] == '\\') return;  // a command, not a word
        // a single-letter unit needs a space before it ("5 m") or a plain number
        // ("540m"); in "2m" after anything else it may be a variable
        if (e - w == 1 && !(w > 0 && s[w - 1] == ' ')) {
            for (size_t i = 0; i < w; i++)
                if (!(isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == ',' || s[i] == '-')) return;
        }
        int digit = 0;
        for (size_t i = 0; i < w; i++) digit |= isdigit((unsigned char)s[i]) || s[i] == '}';
        if (!digit) return;
        char prev = w > 0 ? s[w - 1] : 0;
        if (!(prev == ' ' || isdigit((unsigned char)prev) || prev == '}' || prev == ')' || prev == '.')) return;
        s[w] = 0;
    }
}

// 1,000,000 -> 1000000 outside ( ) and [ ] (there commas separate items);
// 1 000 -> 1000 anywhere.
static void thousands(char *s) {
    int depth = 0;
    char *o = s, *grp = NULL; // grp: where the digits after the last removed separator start
    for (char *p = s; *p;) {
        char c = *p;
        if (c == '(' || c == '[') depth++;
        else if (c == ')' || c == ']') depth--;
        if ((c == ',' || c == ' ') && o > s && isdigit((unsigned char)o[-1]) && isdigit((unsigned char)p[1]) &&
            isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) && !isdigit((unsigned char)p[4]) &&
            (c == ' ' || depth == 0)) {
            char *q = o;
            int k = 0;
            while (q > s && isdigit((unsigned char)q[-1])) q--, k++;
            int ok = grp && q <= grp ? o - grp == 3 : (k >= 1 && k <= 3 && !(q > s && q[-1] == '.'));
            if (ok) { p++; grp = o; continue; }
        }
        if (!isdigit((unsigned char)c)) grp = NULL;
        *o++ = *p++;
    }
    *o = 0;
}

// "72 clips", "3 bolts of fabric": a number followed only by words is that number.
static void number_then_words(char *s) {
    const char *p = s;
    if (*p == '-') p++;
    const char *d = p;
    while (isdigit((unsigned char)*p) || *p == '.' || *p == '/') p++;
    if (p == d || !isdigit((unsigned char)*d) || *p != ' ') return;
    size_t cut = (size_t)(p - s);
    int letters = 0;
    for (; *p; p++) {
        if (isalpha((unsigned char)*p)) letters++;
        else if (*p != ' ' && *p != '\'' && *p != '-') return;
    }
    // two-letter words may be a product of variables only when glued to the number
    if (letters >= 2) s[cut] = 0;
}

static const char *const number_words[] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty", NULL};

static void trim(char *s) {
    size_t n = strlen(s), a = 0;
    while (a < n && isspace((unsigned char)s[a])) a++;
    while (n > a && (isspace((unsigned char)s[n - 1]))) n--;
    memmove(s, s + a, n - a);
    s[n - a] = 0;
}

int mathn_normalize(const char *in, char *out, size_t on) {
    if (!out || on == 0) return -1;
    out[0] = 0;
    if (!in) return 0;
    size_t il = strlen(in);
    int rc = 0;
    if (il > 4 * MX_MAX_INPUT) il = 4 * MX_MAX_INPUT, rc = -1;
    char *s = malloc(il + 1);
    if (!s) return -1;
    memcpy(s, in, il);
    s[il] = 0;
    // protect \\ (matrix row breaks) from the \<space> and \, rules below
    if (replace_all(&s, "\\\\", "\x01", 0) < 0) rc = -1;
    static const char *const subs[][2] = {
        // unicode
        {"\xe2\x88\x92", "-"}, {"\xe2\x80\x93", "-"}, {"\xc3\x97", "\\times "}, {"\xc3\xb7", "\\div "},
        {"\xc2\xb7", "\\cdot "}, {"\xe2\x8b\x85", "\\cdot "}, {"\xe2\x88\x9a", "\\sqrt "}, {"\xcf\x80", "\\pi "},
        {"\xe2\x88\x9e", "\\infty "}, {"\xe2\x89\xa4", "\\le "}, {"\xe2\x89\xa5", "\\ge "}, {"\xe2\x89\xa0", "\\ne "},
        {"\xe2\x88\xaa", "\\cup "}, {"\xc2\xb0", ""}, {"\xe2\x82\xac", ""}, {"\xc2\xa3", ""}, {"\xc2\xa0", " "},
        {"\xe2\x80\x89", " "}, {"\xe2\x80\xaf", " "},
        // fractions and spacing
        {"\\dfrac", "\\frac"}, {"\\tfrac", "\\frac"}, {"\\cfrac", "\\frac"}, {"\\dbinom", "\\binom"},
        {"\\tbinom", "\\binom"}, {"\\left.", ""}, {"\\right.", ""}, {"\\lbrace", "\\{"}, {"\\rbrace", "\\}"},
        {"\\lvert", "|"}, {"\\rvert", "|"}, {"\\vert", "|"}, {"\\|", "|"},
        {"\\displaystyle", ""}, {"\\!", ""}, {"\\,", " "}, {"\\;", " "}, {"\\:", " "}, {"\\ ", " "},
        {"\\qquad", " "}, {"\\quad", " "}, {"~", " "}, {"\t", " "}, {"\n", " "}, {"\r", " "},
        {"\\bigl", ""}, {"\\bigr", ""}, {"\\Bigl", ""}, {"\\Bigr", ""}, {"\\biggl", ""}, {"\\biggr", ""},
        {"\\bigg", ""}, {"\\Bigg", ""}, {"\\big", ""}, {"\\Big", ""},
        // degrees, percent, currency, math delimiters
        {"^{\\circ}", ""}, {"^\\circ", ""}, {"\\circ", ""}, {"\\degree", ""}, {"\\%", ""}, {"%", ""},
        {"\\$", ""}, {"$", ""}, {"\\(", ""}, {"\\)", ""}, {"\\[", ""}, {"\\]", ""}, {"{,}", ""},
        {"\xc2\xb2", "^2"}, {"\xc2\xb3", "^3"}, {"\\mathbb{R}", "(-\\infty,\\infty)"}, {"\\mathbb R", "(-\\infty,\\infty)"},
        {"\\infinity", "\\infty"}, {"\\leqslant", "\\le"}, {"\\geqslant", "\\ge"},
    };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0] && rc == 0; i++)
        if (replace_all(&s, subs[i][0], subs[i][1], 1) < 0) rc = -1;
    if (replace_all(&s, "\\left", "", 1) < 0 || replace_all(&s, "\\right", "", 1) < 0) rc = -1;
    static const char *const wrappers[] = {"\\boxed", "\\fbox", "\\text", "\\textbf", "\\textit", "\\textrm",
                                           "\\textnormal", "\\mathrm", "\\mathbf", "\\mathit", "\\mbox",
                                           "\\hbox", "\\operatorname", "\\textup", "\\mathsf"};
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++) {
        int boxy = i < 2;
        if (unwrap_cmd(&s, wrappers[i], boxy ? "" : " ", boxy ? "" : " ") < 0) rc = -1;
    }
    // \frac12 -> \frac{1}{2}
    if (strstr(s, "\\frac")) {
        Sb b = {0};
        sb_puts(&b, "");
        for (const char *p = s; *p;) {
            if (strncmp(p, "\\frac", 5) == 0 && !isalpha((unsigned char)p[5])) {
                sb_puts(&b, "\\frac");
                p += 5;
                while (*p == ' ') p++;
                for (int arg = 0; arg < 2; arg++) {
                    while (*p == ' ') p++;
                    if (isdigit((unsigned char)*p)) { sb_putc(&b, '{'); sb_putc(&b, *p++); sb_putc(&b, '}'); }
                    else if (*p == '{') {
                        int depth = 0;
                        do {
                            if (*p == '{') depth++;
                            else if (*p == '}') depth--;
                            sb_putc(&b, *p++);
                        } while (*p && depth > 0);
                    } else break;
                }
            } else sb_putc(&b, *p++);
        }
        if (b.oom) rc = -1, free(b.p);
        else free(s), s = b.p;
    }
    if (replace_all(&s, "\x01", " \\\\ ", 0) < 0) rc = -1;
    // "x = 1 or x = 2", "1 and 2": lists
    if (replace_all(&s, " or ", ",", 0) < 0 || replace_all(&s, " and ", ",", 0) < 0) rc = -1;
    // collapse white space
    {
        char *o = s;
        for (char *p = s; *p; p++) {
            if (*p == ' ' && (o == s || o[-1] == ' ')) continue;
            *o++ = *p;
        }
        *o = 0;
    }
    trim(s);
    for (;;) { // trailing full stops and stray punctuation
        size_t n = strlen(s);
        if (n && (s[n - 1] == '.' || s[n - 1] == ' ')) { s[n - 1] = 0; continue; }
        break;
    }
    thousands(s);
    strip_units(s);
    number_then_words(s);
    trim(s);
    for (;;) {
        size_t n = strlen(s);
        if (n && (s[n - 1] == '.' || s[n - 1] == ' ')) { s[n - 1] = 0; continue; }
        break;
    }
    for (int i = 0; number_words[i]; i++)
        if (strcasecmp(s, number_words[i]) == 0) {
            char num[8];
            int v = i, k = 0;
            if (v >= 10) num[k++] = (char)('0' + v / 10);
            num[k++] = (char)('0' + v % 10);
            num[k] = 0;
            strcpy(s, num);
            break;
        }
    size_t n = strlen(s);
    if (n >= on) n = on - 1, rc = -1;
    memcpy(out, s, n);
    out[n] = 0;
    free(s);
    return rc;
}

void mathn_textkey(const char *in, char *out, size_t on) {
    size_t k = 0;
    if (!out || on == 0) return;
    for (const char *p = in ? in : ""; *p && k + 1 < on; p++)
        if (isalnum((unsigned char)*p)) out[k++] = (char)tolower((unsigned char)*p);
    out[k] = 0;
}
