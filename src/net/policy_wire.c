/* Policy encoding for the exec'd proxy; see policy_wire.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/policy_wire.h"

#define WIRE_MAGIC 0x31504541u /* "AEP1" */
#define WIRE_MAX_ITEMS 100000
#define WIRE_MAX_STR 1024

static int put(struct al_buf *b, const void *p, size_t n)
{
	return al_buf_append(b, p, n) < 0 || b->oom ? -ENOMEM : 0;
}

static int put_u32(struct al_buf *b, uint32_t v)
{
	return put(b, &v, sizeof(v));
}

static int put_str(struct al_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint32_t l = n > WIRE_MAX_STR ? WIRE_MAX_STR : (uint32_t)n;
	int r = put_u32(b, l);
	return r < 0 ? r : put(b, s ? s : "", l);
}

int al_policy_wire_encode(const struct al_egress_policy *pol, uint32_t fd_mask, struct al_buf *b)
{
	size_t i;
	int r = put_u32(b, WIRE_MAGIC);

	r = r ?: put_u32(b, fd_mask);
	r = r ?: put_u32(b, (uint32_t)pol->n_allow_domains);
	for (i = 0; r == 0 && i < pol->n_allow_domains; i++)
		r = put_str(b, pol->allow_domains[i]);
	r = r ?: put_u32(b, (uint32_t)pol->n_deny_domains);
	for (i = 0; r == 0 && i < pol->n_deny_domains; i++)
		r = put_str(b, pol->deny_domains[i]);
	r = r ?: put_u32(b, (uint32_t)pol->n_allow_ports);
	r = r ?: put(b, pol->allow_ports, pol->n_allow_ports * sizeof(uint16_t));
	r = r ?: put_u32(b, (uint32_t)pol->n_allow_cidr);
	r = r ?: put(b, pol->allow_cidr, pol->n_allow_cidr * sizeof(struct al_egress_cidr));
	r = r ?: put_u32(b, (uint32_t)pol->n_hosts);
	for (i = 0; r == 0 && i < pol->n_hosts; i++) {
		r = put_str(b, pol->hosts[i].name);
		r = r ?: put(b, &pol->hosts[i].addr, sizeof(pol->hosts[i].addr));
		r = r ?: put_u32(b, (uint32_t)pol->hosts[i].addrlen);
	}
	r = r ?: put_u32(b, (uint32_t)pol->n_resolvers);
	r = r ?: put(b, pol->resolvers, pol->n_resolvers * sizeof(struct sockaddr_storage));
	r = r ?: put(b, &pol->chaos, sizeof(pol->chaos));
	return r;
}

struct cur {
	const uint8_t *p;
	size_t n;
};

static int get(struct cur *c, void *out, size_t n)
{
	if (c->n < n)
		return -EINVAL;
	memcpy(out, c->p, n);
	c->p += n;
	c->n -= n;
	return 0;
}

static int get_count(struct cur *c, size_t *out, size_t item_size)
{
	uint32_t v;
	if (get(c, &v, sizeof(v)) < 0 || v > WIRE_MAX_ITEMS || (size_t)v * item_size > c->n)
		return -EINVAL;
	*out = v;
	return 0;
}

static int get_str(struct cur *c, char **out)
{
	uint32_t l;
	if (get(c, &l, sizeof(l)) < 0 || l > WIRE_MAX_STR || l > c->n)
		return -EINVAL;
	*out = malloc((size_t)l + 1);
	if (*out == NULL)
		return -ENOMEM;
	memcpy(*out, c->p, l);
	(*out)[l] = '\0';
	if (memchr(*out, '\0', l) != NULL)
		return -EINVAL;
	c->p += l;
	c->n -= l;
	return 0;
}

static int get_strs(struct cur *c, char ***arr, size_t *n)
{
	size_t i;
	if (get_count(c, n, sizeof(uint32_t)) < 0)
		return -EINVAL;
	*arr = calloc(*n ? *n : 1, sizeof(char *));
	if (*arr == NULL)
		return -ENOMEM;
	for (i = 0; i < *n; i++)
		if (get_str(c, &(*arr)[i]) < 0)
			return -EINVAL;
	return 0;
}

static void *get_array(struct cur *c, size_t *n, size_t size, int *r)
{
	void *a;
	if (*r < 0 || get_count(c, n, size) < 0) {
		*r = -EINVAL;
		return NULL;
	}
	a = calloc(*n ? *n : 1, size);
	if (a == NULL || get(c, a, *n * size) < 0) {
		*r = a ? -EINVAL : -ENOMEM;
		return a;
	}
	return a;
}

int al_policy_wire_decode(const uint8_t *data, size_t len, struct al_egress_policy *pol,
                          uint32_t *fd_mask)
{
	struct cur c = {data, len};
	uint32_t magic;
	size_t i;
	int r = 0;

	memset(pol, 0, sizeof(*pol));
	if (get(&c, &magic, sizeof(magic)) < 0 || magic != WIRE_MAGIC || get(&c, fd_mask, 4) < 0)
		return -EINVAL;
	if (get_strs(&c, &pol->allow_domains, &pol->n_allow_domains) < 0 ||
	    get_strs(&c, &pol->deny_domains, &pol->n_deny_domains) < 0)
		return -EINVAL;
	pol->allow_ports = get_array(&c, &pol->n_allow_ports, sizeof(uint16_t), &r);
	pol->allow_cidr = get_array(&c, &pol->n_allow_cidr, sizeof(struct al_egress_cidr), &r);
	if (r < 0 || get_count(&c, &pol->n_hosts, 4 + sizeof(struct sockaddr_storage) + 4) < 0)
		return -EINVAL;
	pol->hosts = calloc(pol->n_hosts ? pol->n_hosts : 1, sizeof(*pol->hosts));
	if (pol->hosts == NULL)
		return -ENOMEM;
	for (i = 0; i < pol->n_hosts; i++) {
		uint32_t al;
		if (get_str(&c, &pol->hosts[i].name) < 0 ||
		    get(&c, &pol->hosts[i].addr, sizeof(pol->hosts[i].addr)) < 0 ||
		    get(&c, &al, sizeof(al)) < 0 || al > sizeof(pol->hosts[i].addr))
			return -EINVAL;
		pol->hosts[i].addrlen = al;
	}
	pol->resolvers = get_array(&c, &pol->n_resolvers, sizeof(struct sockaddr_storage), &r);
	if (r < 0 || get(&c, &pol->chaos, sizeof(pol->chaos)) < 0 || c.n != 0)
		return -EINVAL;
	if (!(pol->chaos.loss >= 0 && pol->chaos.loss <= 1 && pol->chaos.reset >= 0 &&
	      pol->chaos.reset <= 1))
		return -EINVAL;
	return 0;
}

void al_policy_wire_free(struct al_egress_policy *pol)
{
	size_t i;
	for (i = 0; pol->allow_domains && i < pol->n_allow_domains; i++)
		free(pol->allow_domains[i]);
	for (i = 0; pol->deny_domains && i < pol->n_deny_domains; i++)
		free(pol->deny_domains[i]);
	for (i = 0; pol->hosts && i < pol->n_hosts; i++)
		free(pol->hosts[i].name);
	free(pol->allow_domains);
	free(pol->deny_domains);
	free(pol->allow_ports);
	free(pol->allow_cidr);
	free(pol->hosts);
	free(pol->resolvers);
	memset(pol, 0, sizeof(*pol));
}
