/* The one escaping of human output (util/escape.h): nothing a terminal acts
 * on gets through, printable UTF-8 is kept, and output is unambiguous. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/escape.h"

static void expect(const char *in, size_t n, const char *want)
{
	char buf[512];
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f;

	al_escape_str(buf, sizeof buf, in, n);
	if (strcmp(buf, want) != 0)
		fail_msg("al_escape_str: got \"%s\", want \"%s\"", buf, want);
	/* the stream form writes exactly the same */
	f = open_memstream(&mem, &memlen);
	assert_non_null(f);
	al_escape_fput(f, in, n);
	fclose(f);
	assert_string_equal(mem, want);
	free(mem);
}

#define EXPECT(lit, want) expect(lit, sizeof lit - 1, want)

static void test_c0_and_newlines(void **state)
{
	(void)state;
	EXPECT("a\nb", "a\\nb");
	EXPECT("a\r\nb", "a\\r\\nb");
	EXPECT("tab\there", "tab\\there");
	EXPECT("\x1b[31mred\x07", "\\x1b[31mred\\x07");
	EXPECT("\x1b]0;title\x07", "\\x1b]0;title\\x07");
	EXPECT("nul\0x", "nul\\x00x");
	EXPECT("\x01\x1f", "\\x01\\x1f");
}

static void test_del_and_c1(void **state)
{
	(void)state;
	EXPECT("del\x7f", "del\\x7f");
	/* C1 as UTF-8: U+0080, U+0085 (NEL), U+009B (CSI), U+009F */
	EXPECT("\xc2\x80", "\\x80");
	EXPECT("a\xc2\x85" "b", "a\\x85b");
	EXPECT("\xc2\x9b" "2J", "\\x9b2J");
	EXPECT("\xc2\x9f", "\\x9f");
	/* U+00A0 (the first code point after C1) is printable */
	EXPECT("\xc2\xa0", "\xc2\xa0");
}

static void test_bidi(void **state)
{
	(void)state;
	/* U+202A..U+202E embeddings and overrides */
	EXPECT("\xe2\x80\xaa", "\\u202a");
	EXPECT("\xe2\x80\xab", "\\u202b");
	EXPECT("\xe2\x80\xac", "\\u202c");
	EXPECT("\xe2\x80\xad", "\\u202d");
	EXPECT("file\xe2\x80\xaetxt.exe", "file\\u202etxt.exe");
	/* U+2066..U+2069 isolates */
	EXPECT("\xe2\x81\xa6", "\\u2066");
	EXPECT("\xe2\x81\xa7", "\\u2067");
	EXPECT("\xe2\x81\xa8", "\\u2068");
	EXPECT("\xe2\x81\xa9", "\\u2069");
	/* marks and separators */
	EXPECT("\xe2\x80\x8e\xe2\x80\x8f", "\\u200e\\u200f");
	EXPECT("\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029");
	EXPECT("\xd8\x9c", "\\u061c");
	/* neighbours that are harmless stay */
	EXPECT("\xe2\x80\x94", "\xe2\x80\x94");       /* U+2014 em dash */
	EXPECT("\xe2\x81\xa5", "\xe2\x81\xa5");       /* U+2065 (unassigned) */
	EXPECT("\xe2\x81\xaa", "\xe2\x81\xaa");       /* U+206A */
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	EXPECT("\xff\xfe", "\\xff\\xfe");
	EXPECT("\xc0\x80", "\\xc0\\x80");             /* overlong NUL */
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80");    /* surrogate */
	EXPECT("cut\xe2\x80", "cut\\xe2\\x80");       /* truncated sequence */
	EXPECT("\x80lone", "\\x80lone");              /* lone continuation */
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
}

static void test_printable_kept_backslash_doubled(void **state)
{
	(void)state;
	EXPECT("plain text 123", "plain text 123");
	EXPECT("gr\xc3\xbc\xc3\x9f \xf0\x9f\x91\x8b", "gr\xc3\xbc\xc3\x9f \xf0\x9f\x91\x8b");
	/* without doubling, a name "a\x1b" would print like an escaped ESC */
	EXPECT("a\\x1b", "a\\\\x1b");
	EXPECT("", "");
}

static void test_truncation_keeps_whole_escapes(void **state)
{
	char buf[8];
	(void)state;
	/* "ab" + "\x1b" (4 bytes) = 6 fits in 8 with the NUL; the next escape does not */
	assert_int_equal(al_escape_str(buf, sizeof buf, "ab\x1b\x1b", 4), 6);
	assert_string_equal(buf, "ab\\x1b");
	/* a multi-byte character is never split */
	assert_int_equal(al_escape_str(buf, 4, "a\xf0\x9f\x91\x8b", 5), 1);
	assert_string_equal(buf, "a");
	assert_int_equal(al_escape_str(buf, 1, "abc", 3), 0);
	assert_string_equal(buf, "");
}

static void test_printf_keeps_only_the_final_newline(void **state)
{
	char *mem = NULL, big[3000];
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	(void)state;

	assert_non_null(f);
	al_escape_printf(f, "airlock: hostname: \"%s\" is bad\n", "x\ny\x1b");
	fclose(f);
	assert_string_equal(mem, "airlock: hostname: \"x\\ny\\x1b\" is bad\n");
	free(mem);

	/* longer than the stack buffer: still whole and escaped */
	memset(big, 'z', sizeof big - 2);
	big[sizeof big - 2] = '\x07';
	big[sizeof big - 1] = '\0';
	mem = NULL;
	f = open_memstream(&mem, &memlen);
	assert_non_null(f);
	al_escape_printf(f, "%s\n", big);
	fclose(f);
	assert_int_equal(memlen, sizeof big - 2 + 4 + 1);
	assert_memory_equal(mem + memlen - 5, "\\x07\n", 5);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_c0_and_newlines),
	    cmocka_unit_test(test_del_and_c1),
	    cmocka_unit_test(test_bidi),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_printable_kept_backslash_doubled),
	    cmocka_unit_test(test_truncation_keeps_whole_escapes),
	    cmocka_unit_test(test_printf_keeps_only_the_final_newline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
