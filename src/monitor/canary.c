/* Canary bait (canary.h). */
#include "monitor/canary.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

void al_canary_token(char *token, size_t len)
{
	for (size_t i = 0; i < len; i++)
		token[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
	token[len] = '\0';
}

static void upper_digits(char *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = alnum[randombytes_uniform(26)] ^ 0; /* A-Z */
	for (size_t i = 0; i < len; i += 3)
		out[i] = (char)('0' + randombytes_uniform(10));
	out[len] = '\0';
}

static void b64_random(struct al_buf *b, size_t chars)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < chars; i++)
		al_buf_append(b, &b64[randombytes_uniform(64)], 1);
}

static const char *const first[] = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken",
                                    "Margaret", "Dennis", "Frances", "John", "Radia", "Linus"};
static const char *const last[] = {"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov",
                                   "Thompson", "Hamilton", "Ritchie", "Allen", "Backus",
                                   "Perlman", "Torvalds"};

static void customers_csv(struct al_buf *b, const char *token)
{
	unsigned tok_row = randombytes_uniform(20);

	al_buf_puts(b, "customer_id,name,email,card_last4,plan,api_key\n");
	for (unsigned i = 0; i < 20; i++) {
		const char *f = first[randombytes_uniform(12)], *l = last[randombytes_uniform(12)];
		char key[AL_CANARY_TOKEN_LEN + 1];
		if (i == tok_row)
			snprintf(key, sizeof key, "%s", token);
		else
			al_canary_token(key, AL_CANARY_TOKEN_LEN);
		al_buf_printf(b, "%u,%s %s,%c%s%u@example.com,%04u,%s,%s\n", 10000 + i * 37, f, l,
		              f[0] + 32, l, randombytes_uniform(100), randombytes_uniform(10000),
		              randombytes_uniform(2) ? "pro" : "team", key);
	}
}

/* content with every "{token}" replaced */
static void substitute(struct al_buf *b, const char *content, const char *token)
{
	const char *p = content, *q;
	while ((q = strstr(p, "{token}")) != NULL) {
		al_buf_append(b, p, (size_t)(q - p));
		al_buf_puts(b, token);
		p = q + 7;
	}
	al_buf_puts(b, p);
}

int al_canary_make(const struct al_canary_spec *cs, const char *home, struct al_canary *out)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	struct al_buf b;
	const char *defpath = NULL;

	if (sodium_init() < 0)
		return -EIO;
	memset(out, 0, sizeof *out);
	out->kind = cs->kind;
	al_canary_token(out->token, AL_CANARY_TOKEN_LEN);
	crypto_hash_sha256(d, (const unsigned char *)out->token, AL_CANARY_TOKEN_LEN);
	sodium_bin2hex(out->token_sha256, sizeof out->token_sha256, d, sizeof d);
	al_buf_init(&b);
	switch (cs->kind) {
	case AL_CANARY_AWS: {
		char id[17];
		upper_digits(id, 16);
		defpath = "/.aws/credentials";
		al_buf_printf(&b,
		              "[default]\naws_access_key_id = AKIA%s\naws_secret_access_key = %s\n"
		              "region = us-east-1\n",
		              id, out->token);
		break;
	}
	case AL_CANARY_SSH:
		defpath = "/.ssh/id_ed25519";
		al_buf_puts(&b, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACD");
		b64_random(&b, 27);
		al_buf_puts(&b, "\n");
		al_buf_puts(&b, out->token);
		b64_random(&b, 70 - AL_CANARY_TOKEN_LEN);
		al_buf_puts(&b, "\n");
		for (int i = 0; i < 3; i++) {
			b64_random(&b, 70);
			al_buf_puts(&b, "\n");
		}
		al_buf_puts(&b, "-----END OPENSSH PRIVATE KEY-----\n");
		break;
	case AL_CANARY_GCP: {
		char num[22];
		upper_digits(num, 21);
		for (int i = 0; i < 21; i++)
			num[i] = (char)('0' + randombytes_uniform(10));
		defpath = "/.config/gcloud/application_default_credentials.json";
		al_buf_printf(&b,
		              "{\n  \"type\": \"service_account\",\n  \"project_id\": \"prod-analytics-%u\",\n"
		              "  \"private_key_id\": \"%s\",\n  \"private_key\": \"-----BEGIN PRIVATE "
		              "KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
		              randombytes_uniform(900000) + 100000, out->token);
		b64_random(&b, 64);
		al_buf_printf(&b,
		              "\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": "
		              "\"etl-runner@prod-analytics.iam.gserviceaccount.com\",\n  \"client_id\": "
		              "\"%s\",\n  \"token_uri\": \"https://oauth2.googleapis.com/token\"\n}\n",
		              num);
		break;
	}
	case AL_CANARY_DOTENV:
		defpath = "/.env";
		al_buf_printf(&b,
		              "DATABASE_URL=postgres://app:%.12s@db.internal:5432/prod\n"
		              "OPENAI_API_KEY=sk-proj-%s\nSTRIPE_SECRET_KEY=sk_live_",
		              out->token + 20, out->token);
		{
			char extra[33];
			al_canary_token(extra, 32);
			al_buf_printf(&b, "%s\n", extra);
		}
		break;
	case AL_CANARY_ENV:
		snprintf(out->name, sizeof out->name, "%s", cs->name ? cs->name : "OPENAI_API_KEY");
		al_buf_printf(&b, "%s=sk-proj-%s", out->name, out->token);
		break;
	case AL_CANARY_FILE:
		defpath = "/customers.csv";
		if (cs->content)
			substitute(&b, cs->content, out->token);
		else
			customers_csv(&b, out->token);
		break;
	default:
		al_buf_free(&b);
		return -EINVAL;
	}
	if (b.oom) {
		al_buf_free(&b);
		return -ENOMEM;
	}
	out->content = b.data;
	out->len = b.len;
	if (cs->kind != AL_CANARY_ENV) {
		if (cs->path)
			snprintf(out->path, sizeof out->path, "%s", cs->path);
		else
			snprintf(out->path, sizeof out->path, "%s%s", home, defpath);
	}
	return 0;
}

void al_canary_free(struct al_canary *c)
{
	if (c->content) {
		sodium_memzero(c->content, c->len);
		free(c->content);
	}
	c->content = NULL;
	sodium_memzero(c->token, sizeof c->token);
}
