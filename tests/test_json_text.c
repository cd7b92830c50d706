// rl/json_text.c: model text made valid UTF-8 for JSON output, byte for byte
// as the `tokenizers` library decodes invalid bytes (one U+FFFD each).
#include <stdlib.h>
#include <string.h>

#include "rl/json_text.h"
#include "testlib.h"

#define FFFD "\xEF\xBF\xBD"

static void same(const char *in, size_t n, const char *want, const char *what) {
    char *got = json_text_clean(in, n);
    CHECK(got && !strcmp(got, want), "%s: got '%s', want '%s'", what, got ? got : "(null)", want);
    free(got);
}

int main(void) {
    same("plain ascii\n", 12, "plain ascii\n", "ascii");
    same("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "2-, 3-, 4-byte");
    same("ab\xF0\x9F", 4, "ab" FFFD FFFD, "cut mid-character at the end");
    same("\xE2\x82x", 3, FFFD FFFD "x", "cut mid-character, then ascii");
    same("\x80\xBF", 2, FFFD FFFD, "stray continuation bytes");
    same("\xC0\x80", 2, FFFD FFFD, "overlong NUL");
    same("\xE0\x80\xAF", 3, FFFD FFFD FFFD, "overlong 3-byte");
    same("\xED\xA0\x80", 3, FFFD FFFD FFFD, "surrogate");
    same("\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, "above U+10FFFF");
    same("\xF8\x88\x80\x80\x80", 5, FFFD FFFD FFFD FFFD FFFD, "5-byte form");
    same("a\0b", 3, "a" FFFD "b", "NUL inside");
    same("", 0, "", "empty");

    cJSON *o = cJSON_CreateObject();
    CHECK(json_add_text(o, "t", "x\xFFy") != NULL && json_add_text(o, "n", NULL) != NULL, "json_add_text");
    char *s = cJSON_PrintUnformatted(o);
    CHECK(s && !strcmp(s, "{\"t\":\"x" FFFD "y\",\"n\":\"\"}"), "object: %s", s ? s : "(null)");
    cJSON_free(s);
    cJSON_Delete(o);
    return tu_finish("test_json_text");
}
