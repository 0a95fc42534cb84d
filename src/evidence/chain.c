/* Hash chain and checkpoint rules shared by writer and verifier (chain.h).
 * Keeping the message and line construction in one place is what makes the
 * verifier's "rebuild the line and compare bytes" check sound. */
#include "evidence/chain.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int al_evidence_crypto_init(struct al_error *err)
{
	if (sodium_init() < 0)
		return al_error_set(err, EIO, "evidence", "libsodium initialisation failed");
	return 0;
}

void al_hex(const uint8_t *bin, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int al_unhex(const char *hex, size_t hexlen, uint8_t *bin, size_t n)
{
	if (hexlen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexdigit(hex[2 * i]), lo = hexdigit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		bin[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void al_chain_hash_line(const char *line, size_t len, uint8_t out[AL_HASH_LEN])
{
	crypto_hash_sha256(out, (const unsigned char *)line, len);
}

void al_chain_genesis(uint8_t out[AL_HASH_LEN])
{
	/* Zeros rather than a hash of the run id: every record already carries
	 * "run", so the run is bound into the chain by the first line itself, and
	 * any reader can check the genesis value without knowing our rules. */
	memset(out, 0, AL_HASH_LEN);
}

bool al_run_id_valid(const char *s, size_t n)
{
	if (n == 0 || n > AL_EVLOG_RUN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

bool al_type_valid(const char *s, size_t n)
{
	if (n == 0 || n > AL_EVLOG_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static void put_be(struct al_buf *b, uint64_t x, int bytes)
{
	uint8_t tmp[8];
	for (int i = 0; i < bytes; i++)
		tmp[i] = (uint8_t)(x >> (8 * (bytes - 1 - i)));
	al_buf_append(b, tmp, (size_t)bytes);
}

void al_checkpoint_message(const struct al_checkpoint *cp, struct al_buf *msg)
{
	size_t tlen = strnlen(cp->time, sizeof cp->time);

	al_buf_reset(msg);
	/* the NUL ends the domain string so no run id can extend it */
	al_buf_append(msg, AL_CHECKPOINT_DOMAIN, sizeof AL_CHECKPOINT_DOMAIN);
	put_be(msg, cp->run_len, 2);
	al_buf_append(msg, cp->run, cp->run_len);
	put_be(msg, cp->seq, 8);
	put_be(msg, tlen, 2);
	al_buf_append(msg, cp->time, tlen);
	put_be(msg, cp->mono_ns, 8);
	put_be(msg, cp->epoch, 4);
	put_be(msg, cp->final ? 1 : 0, 1);
	al_buf_append(msg, cp->head, AL_HASH_LEN);
	al_buf_append(msg, cp->key, AL_PUBKEY_LEN);
	if (cp->final) {
		static const uint8_t none[AL_PUBKEY_LEN];
		al_buf_append(msg, none, sizeof none);
	} else {
		al_buf_append(msg, cp->next_key, AL_PUBKEY_LEN);
	}
}

int al_checkpoint_line(const struct al_checkpoint *cp, struct al_buf *out)
{
	char head[2 * AL_HASH_LEN + 1], key[2 * AL_PUBKEY_LEN + 1], next[2 * AL_PUBKEY_LEN + 1];
	char sig[2 * AL_SIG_LEN + 1];

	al_hex(cp->head, AL_HASH_LEN, head);
	al_hex(cp->key, AL_PUBKEY_LEN, key);
	al_hex(cp->next_key, AL_PUBKEY_LEN, next);
	al_hex(cp->sig, AL_SIG_LEN, sig);
	al_buf_reset(out);
	al_buf_printf(out,
	              "{\"v\":%d,\"seq\":%" PRIu64 ",\"time\":\"%s\",\"mono_ns\":%" PRIu64
	              ",\"run\":\"%.*s\",\"type\":\"checkpoint\",\"epoch\":%" PRIu32
	              ",\"final\":%s,\"head\":\"%s\",\"key\":\"%s\",\"next_key\":",
	              AL_EVLOG_VERSION, cp->seq, cp->time, cp->mono_ns, (int)cp->run_len, cp->run,
	              cp->epoch, cp->final ? "true" : "false", head, key);
	if (cp->final)
		al_buf_puts(out, "null");
	else
		al_buf_printf(out, "\"%s\"", next);
	al_buf_printf(out, ",\"sig\":\"%s\",\"prev\":\"%s\"}", sig, head);
	return out->oom ? -ENOMEM : 0;
}
