/* Hash chain, checkpoint signing and the verifier's verdict on each class of
 * tampering: every test edits a real log made by the writer in exactly one
 * way and checks the status and the line that is reported. */
#include "evtest.h"

#include <sys/stat.h>

#include "evidence/chain.h"
#include "evidence/jscan.h"

struct fixture {
	char *dir;
	char *log;
	char pub[65];
	struct lines l;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->dir = scratch_dir();
	f->log = path_in(f->dir, "run.jsonl");
	/* 10 execs, checkpoint every 4 records: checkpoints at lines 5 and 10,
	 * then 3 execs, the streams record and the final checkpoint (15 lines) */
	make_log(f->log, 10, 4, NULL, f->pub);
	lines_read(f->log, &f->l);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	lines_free(&f->l);
	rm_rf(f->dir);
	free(f->log);
	free(f->dir);
	free(f);
	return 0;
}

static enum al_verify_status verify_lines(struct fixture *f, const struct lines *l,
                                          const uint8_t *trusted, struct al_verify *v)
{
	char *p = path_in(f->dir, "edited.jsonl");
	enum al_verify_status st;
	lines_write(p, l);
	st = verify_path(p, trusted, v);
	free(p);
	return st;
}

static bool is_type(const char *line, const char *type)
{
	struct al_jval obj, t;
	return al_jscan_value(line, strlen(line), true, &obj) == 0 &&
	       al_jobj_get(&obj, "type", &t) && al_jstr_eq(&t, type);
}

static size_t nth_checkpoint(const struct lines *l, int n)
{
	for (size_t i = 0; i < l->n; i++)
		if (is_type(l->v[i], "checkpoint") && n-- == 0)
			return i;
	fail_msg("no checkpoint %d", n);
	return 0;
}

static void get_hex(const char *line, const char *key, uint8_t *out, size_t n)
{
	struct al_jval obj, v;
	assert_int_equal(al_jscan_value(line, strlen(line), true, &obj), 0);
	assert_true(al_jobj_get(&obj, key, &v));
	assert_int_equal(al_unhex(v.p, v.n, out, n), 0);
}

static void test_roundtrip_and_chain(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	uint8_t h[AL_HASH_LEN], prev[AL_HASH_LEN], k1[32], n0[32], k0[32];
	size_t c0, c1;

	assert_int_equal(f->l.n, 15);
	assert_int_equal(verify_path(f->log, NULL, &v), AL_VERIFY_OK);
	assert_int_equal(v.next_seq, 15);
	assert_int_equal(v.epoch, 3);
	assert_int_equal(v.last_cp_line, 15);
	al_verify_free(&v);

	/* envelope first, in order, and prev = SHA-256 of the previous line */
	assert_true(strncmp(f->l.v[0], "{\"v\":1,\"seq\":0,\"time\":\"", 23) == 0);
	assert_non_null(strstr(f->l.v[0], "\",\"mono_ns\":"));
	assert_non_null(
	    strstr(f->l.v[0], ",\"run\":\"run-test-1\",\"type\":\"run_start\",\"pubkey\":"));
	get_hex(f->l.v[0], "prev", prev, sizeof prev);
	memset(h, 0, sizeof h);
	assert_memory_equal(prev, h, sizeof h);
	for (size_t i = 1; i < f->l.n; i++) {
		crypto_hash_sha256(h, (const unsigned char *)f->l.v[i - 1], strlen(f->l.v[i - 1]));
		get_hex(f->l.v[i], "prev", prev, sizeof prev);
		assert_memory_equal(prev, h, sizeof h);
	}

	/* the ratchet: epoch 1 is signed by the key epoch 0 committed to, and
	 * epoch 0's key is the run's published key */
	c0 = nth_checkpoint(&f->l, 0);
	c1 = nth_checkpoint(&f->l, 1);
	assert_int_equal(c0, 4);
	assert_int_equal(c1, 9);
	get_hex(f->l.v[c0], "key", k0, 32);
	get_hex(f->l.v[c0], "next_key", n0, 32);
	get_hex(f->l.v[c1], "key", k1, 32);
	assert_memory_equal(n0, k1, 32);
	assert_memory_not_equal(k0, k1, 32);
	al_unhex(f->pub, 64, h, 32);
	assert_memory_equal(k0, h, 32);
	assert_true(is_type(f->l.v[13], "streams"));
	assert_non_null(strstr(f->l.v[14], "\"final\":true"));
}

static void test_flip_byte(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	char *p = strstr(f->l.v[2], "step-1");

	assert_non_null(p);
	p[5] = '7';
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_EDITED);
	assert_int_equal(v.bad_line, 3);
	assert_int_equal(v.bad_seq, 2);
	al_verify_free(&v);
}

static void test_flip_byte_before_final(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	char *p = strstr(f->l.v[12], "step-");

	p[0] = 'S';
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_EDITED);
	assert_int_equal(v.bad_line, 13);
	al_verify_free(&v);
}

static void test_delete_line(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;

	free(f->l.v[2]);
	f->l.v[2] = NULL; /* lines_write skips it */
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_SEQUENCE);
	assert_int_equal(v.bad_line, 3);
	assert_int_equal(v.bad_seq, 3);
	al_verify_free(&v);
}

static void test_swap_lines(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	char *t = f->l.v[6];

	f->l.v[6] = f->l.v[7];
	f->l.v[7] = t;
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_SEQUENCE);
	assert_int_equal(v.bad_line, 7);
	/* the prefix up to the first checkpoint was verified before */
	assert_int_equal(v.last_cp_line, 5);
	al_verify_free(&v);
}

static void test_truncate(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	struct lines cut = f->l;

	/* cut after the second checkpoint plus two records */
	cut.n = 12;
	assert_int_equal(verify_lines(f, &cut, NULL, &v), AL_VERIFY_TRUNCATED);
	assert_int_equal(v.last_cp_line, 10);
	assert_int_equal(v.last_cp_seq, 9);
	assert_int_equal(v.epoch, 2);
	al_verify_free(&v);

	/* exactly at a (non-final) checkpoint: still cut short */
	cut.n = 10;
	assert_int_equal(verify_lines(f, &cut, NULL, &v), AL_VERIFY_TRUNCATED);
	assert_int_equal(v.last_cp_line, 10);
	al_verify_free(&v);

	/* before any checkpoint: nothing signed */
	cut.n = 3;
	assert_int_equal(verify_lines(f, &cut, NULL, &v), AL_VERIFY_TRUNCATED);
	assert_int_equal(v.epoch, 0);
	assert_non_null(strstr(v.reason, "nothing is signed"));
	al_verify_free(&v);
}

static void test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	char *p = path_in(f->dir, "torn.jsonl");
	FILE *o = fopen(p, "we");

	for (size_t i = 0; i < 5; i++)
		fprintf(o, "%s\n", f->l.v[i]);
	fwrite(f->l.v[5], 1, strlen(f->l.v[5]) / 2, o); /* crash mid-write */
	fclose(o);
	assert_int_equal(verify_path(p, NULL, &v), AL_VERIFY_TRUNCATED);
	assert_non_null(strstr(v.reason, "torn"));
	assert_int_equal(v.last_cp_line, 5);
	al_verify_free(&v);
	free(p);
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	struct lines none = {0};

	assert_int_equal(verify_lines(f, &none, NULL, &v), AL_VERIFY_TRUNCATED);
	al_verify_free(&v);
}

static void test_bad_signature(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	size_t c = nth_checkpoint(&f->l, 1);
	char *sig = strstr(f->l.v[c], "\"sig\":\"") + 7;

	sig[10] = sig[10] == 'a' ? 'b' : 'a';
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_BAD_SIGNATURE);
	assert_int_equal(v.bad_line, c + 1);
	al_verify_free(&v);
}

static void test_checkpoint_extra_member(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	size_t c = nth_checkpoint(&f->l, 0);
	char *p = strstr(f->l.v[c], ",\"prev\":"), *n;

	assert_true(asprintf(&n, "%.*s,\"note\":\"x\"%s", (int)(p - f->l.v[c]), f->l.v[c], p) > 0);
	free(f->l.v[c]);
	f->l.v[c] = n;
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_EDITED);
	assert_int_equal(v.bad_line, c + 1);
	al_verify_free(&v);
}

/* An attacker who rewrites the chain and re-signs every checkpoint with a
 * key of their own (epoch ratchet included). */
static void reforge(struct lines *l, bool replace_recorded_key)
{
	uint8_t pk[32], sk[64], npk[32], nsk[64], prev[32];
	char hex[65];
	struct al_buf b;

	al_buf_init(&b);
	crypto_sign_keypair(pk, sk);
	memset(prev, 0, sizeof prev);
	for (size_t i = 0; i < l->n; i++) {
		char *line = l->v[i];
		size_t len = strlen(line);
		if (is_type(line, "checkpoint")) {
			struct al_checkpoint cp = {0};
			struct al_jval obj, x;
			uint64_t u;
			al_jscan_value(line, len, true, &obj);
			al_jobj_get(&obj, "seq", &x), al_jnum_u64(&x, &cp.seq);
			al_jobj_get(&obj, "mono_ns", &x), al_jnum_u64(&x, &cp.mono_ns);
			al_jobj_get(&obj, "epoch", &x), al_jnum_u64(&x, &u);
			cp.epoch = (uint32_t)u;
			al_jobj_get(&obj, "final", &x);
			cp.final = x.type == AL_J_TRUE;
			al_jobj_get(&obj, "time", &x);
			memcpy(cp.time, x.p, x.n);
			cp.run = "run-test-1";
			cp.run_len = strlen(cp.run);
			memcpy(cp.head, prev, 32);
			memcpy(cp.key, pk, 32);
			if (!cp.final)
				crypto_sign_keypair(npk, nsk);
			memcpy(cp.next_key, npk, 32);
			al_checkpoint_message(&cp, &b);
			crypto_sign_detached(cp.sig, NULL, (unsigned char *)b.data, b.len, sk);
			al_checkpoint_line(&cp, &b);
			free(l->v[i]);
			l->v[i] = line = strdup(b.data);
			len = strlen(line);
			memcpy(pk, npk, 32);
			memcpy(sk, nsk, 64);
		} else {
			char *pp;
			if (replace_recorded_key && (pp = strstr(line, "\"pubkey\":\""))) {
				al_hex(pk, 32, hex);
				memcpy(pp + 10, hex, 64);
			}
			al_hex(prev, 32, hex);
			memcpy(line + len - 66, hex, 64);
		}
		crypto_hash_sha256(prev, (unsigned char *)line, len);
	}
	al_buf_free(&b);
}

static void test_resigned_with_other_key(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;

	/* run_start still names the real key: the forged signatures do not match it */
	reforge(&f->l, false);
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_WRONG_KEY);
	assert_int_equal(v.bad_line, 5);
	al_verify_free(&v);
}

static void test_full_forgery_needs_pubkey(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	uint8_t pub[32];

	/* the whole log rewritten, recorded key included: only a trusted key
	 * given from outside the log can tell (documented in docs/evidence.md) */
	reforge(&f->l, true);
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_OK);
	al_verify_free(&v);
	al_unhex(f->pub, 64, pub, 32);
	assert_int_equal(verify_lines(f, &f->l, pub, &v), AL_VERIFY_WRONG_KEY);
	assert_int_equal(v.bad_line, 1);
	al_verify_free(&v);
}

static void test_wrong_pubkey(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	uint8_t pub[32], other[32], sk[64];

	al_unhex(f->pub, 64, pub, 32);
	assert_int_equal(verify_path(f->log, pub, &v), AL_VERIFY_OK);
	al_verify_free(&v);
	crypto_sign_keypair(other, sk);
	assert_int_equal(verify_path(f->log, other, &v), AL_VERIFY_WRONG_KEY);
	assert_int_equal(v.bad_line, 1);
	al_verify_free(&v);
}

static void test_appended_after_final(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	uint8_t h[32];
	char hex[65], *extra;
	const char *last = f->l.v[f->l.n - 1];

	crypto_hash_sha256(h, (const unsigned char *)last, strlen(last));
	al_hex(h, 32, hex);
	assert_true(
	    asprintf(
	        &extra,
	        "{\"v\":1,\"seq\":15,\"time\":\"2026-01-01T00:00:00.000000000Z\",\"mono_ns\":1,"
	        "\"run\":\"run-test-1\",\"type\":\"exec\",\"prev\":\"%s\"}",
	        hex) > 0);
	f->l.v = realloc(f->l.v, (f->l.n + 1) * sizeof *f->l.v);
	f->l.v[f->l.n++] = extra;
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_EDITED);
	assert_int_equal(v.bad_line, 16);
	al_verify_free(&v);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	char *p, *n;

	/* a second "seq" among the fields: readers could disagree on which */
	p = strstr(f->l.v[3], ",\"prev\":");
	assert_true(asprintf(&n, "%.*s,\"seq\":99%s", (int)(p - f->l.v[3]), f->l.v[3], p) > 0);
	free(f->l.v[3]);
	f->l.v[3] = n;
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_MALFORMED);
	assert_int_equal(v.bad_line, 4);
	al_verify_free(&v);

	free(f->l.v[3]);
	f->l.v[3] = strdup("this is not a record");
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_MALFORMED);
	assert_int_equal(v.bad_line, 4);
	al_verify_free(&v);

	free(f->l.v[3]);
	f->l.v[3] = strdup("{\"v\":2,\"seq\":3}");
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_MALFORMED);
	assert_non_null(strstr(v.reason, "version"));
	al_verify_free(&v);
}

static void test_overlong_line(void **state)
{
	struct fixture *f = *state;
	struct al_verify v;
	char *big = malloc(AL_EVLOG_LINE_MAX + 100);

	memset(big, 'x', AL_EVLOG_LINE_MAX + 99);
	big[AL_EVLOG_LINE_MAX + 99] = '\0';
	free(f->l.v[3]);
	f->l.v[3] = big;
	assert_int_equal(verify_lines(f, &f->l, NULL, &v), AL_VERIFY_MALFORMED);
	assert_int_equal(v.bad_line, 4);
	assert_non_null(strstr(v.reason, "longer"));
	al_verify_free(&v);
}

/* The ratchet: whoever holds the long-term key (a stolen key file) cannot
 * re-sign a later epoch in place -- epoch e > 0 must be signed by the key
 * checkpoint e-1 committed to, whose secret existed only in the writer's
 * memory until it signed. */
static void test_old_key_cannot_sign_later_epoch(void **state)
{
	struct fixture *f = *state;
	char *prefix = path_in(f->dir, "lt"), *keyp = path_in(f->dir, "lt.key");
	char *log2 = path_in(f->dir, "lt.jsonl"), pub[65];
	struct al_error err = {0};
	struct al_verify v;
	struct lines l;
	uint8_t *sk = sodium_malloc(AL_SECKEY_LEN), pk[32];
	struct al_checkpoint cp = {0};
	struct al_jval obj, x;
	struct al_buf b;
	uint64_t u;
	size_t c1;
	char *line;

	assert_int_equal(al_key_generate_files(prefix, pub, &err), 0);
	make_log(log2, 10, 4, keyp, NULL);
	lines_read(log2, &l);
	assert_int_equal(al_key_load_secret(keyp, sk, pk, &err), 0);
	c1 = nth_checkpoint(&l, 1);
	line = strdup(l.v[c1]); /* l.v[c1] is replaced below */

	/* rebuild checkpoint 1 exactly, but signed with the long-term key */
	assert_int_equal(al_jscan_value(line, strlen(line), true, &obj), 0);
	al_jobj_get(&obj, "seq", &x), al_jnum_u64(&x, &cp.seq);
	al_jobj_get(&obj, "mono_ns", &x), al_jnum_u64(&x, &cp.mono_ns);
	al_jobj_get(&obj, "epoch", &x), al_jnum_u64(&x, &u);
	assert_int_equal(u, 1);
	cp.epoch = 1;
	al_jobj_get(&obj, "time", &x);
	memcpy(cp.time, x.p, x.n);
	cp.run = "run-test-1";
	cp.run_len = strlen(cp.run);
	get_hex(line, "head", cp.head, 32);
	get_hex(line, "next_key", cp.next_key, 32);
	al_buf_init(&b);

	/* (a) claiming the long-term key for epoch 1 */
	memcpy(cp.key, pk, 32);
	al_checkpoint_message(&cp, &b);
	crypto_sign_detached(cp.sig, NULL, (unsigned char *)b.data, b.len, sk);
	al_checkpoint_line(&cp, &b);
	free(l.v[c1]);
	l.v[c1] = strdup(b.data);
	assert_int_equal(verify_lines(f, &l, NULL, &v), AL_VERIFY_BAD_SIGNATURE);
	assert_int_equal(v.bad_line, c1 + 1);
	assert_non_null(strstr(v.reason, "committed by the previous checkpoint"));
	al_verify_free(&v);

	/* (b) keeping the committed key in the line, signature by the old key */
	get_hex(line, "key", cp.key, 32);
	al_checkpoint_message(&cp, &b);
	crypto_sign_detached(cp.sig, NULL, (unsigned char *)b.data, b.len, sk);
	al_checkpoint_line(&cp, &b);
	free(l.v[c1]);
	l.v[c1] = strdup(b.data);
	assert_int_equal(verify_lines(f, &l, NULL, &v), AL_VERIFY_BAD_SIGNATURE);
	assert_non_null(strstr(v.reason, "does not verify"));
	al_verify_free(&v);

	free(line);
	al_buf_free(&b);
	sodium_free(sk);
	lines_free(&l);
	free(prefix);
	free(keyp);
	free(log2);
}

static void test_keyfiles(void **state)
{
	struct fixture *f = *state;
	char *prefix = path_in(f->dir, "signer"), *keyp = path_in(f->dir, "signer.key");
	char *log2 = path_in(f->dir, "signed.jsonl"), pub[65], pub2[65];
	struct al_error err = {0};
	struct al_verify v;
	struct stat st;
	uint8_t pk[32];
	struct al_log_spec ls = {0};
	struct al_evlog *log = NULL;

	assert_int_equal(al_key_generate_files(prefix, pub, &err), 0);
	assert_int_equal(stat(keyp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(al_key_generate_files(prefix, pub2, &err), -EEXIST);

	make_log(log2, 3, 2, keyp, pub2);
	assert_string_equal(pub, pub2);
	assert_int_equal(al_unhex(pub, 64, pk, 32), 0);
	assert_int_equal(verify_path(log2, pk, &v), AL_VERIFY_OK);
	al_verify_free(&v);
	/* the .pub file works as --pubkey */
	{
		char *pubp = path_in(f->dir, "signer.pub");
		uint8_t pk2[32];
		assert_int_equal(al_key_parse_public(pubp, pk2, &err), 0);
		assert_memory_equal(pk, pk2, 32);
		free(pubp);
	}

	/* a secret readable by others is refused, and nothing is created */
	chmod(keyp, 0644);
	unlink(log2);
	ls.path = log2;
	ls.signing_key = keyp;
	assert_int_equal(al_evlog_open(&log, &ls, "run-x", &err), -EPERM);
	assert_int_equal(access(log2, F_OK), -1);
	free(prefix);
	free(keyp);
	free(log2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip_and_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flip_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flip_byte_before_final, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_swap_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_signature, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint_extra_member, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resigned_with_other_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_forgery_needs_pubkey, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_pubkey, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_appended_after_final, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyfiles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_old_key_cannot_sign_later_epoch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
