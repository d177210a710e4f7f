/* netlist: see netlist.h. */
#include "netlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cs_err.h"

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff};

/* text as an address: its family and bytes (an IPv4-mapped IPv6 address
 * as IPv4); 0 when it is one, -1 otherwise. */
static int
ip_parse(const char *text, int *family, unsigned char addr[16])
{
	unsigned char v6[16];

	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, v6) != 1)
		return -1;
	if (memcmp(v6, v4_mapped, sizeof(v4_mapped)) == 0) {
		*family = AF_INET;
		memcpy(addr, v6 + 12, 4);
	} else {
		*family = AF_INET6;
		memcpy(addr, v6, 16);
	}
	return 0;
}

int
cs_ip_valid(const char *text)
{
	unsigned char a[16];
	int f;

	return ip_parse(text, &f, a) == 0;
}

/* One entry "ADDR" or "ADDR/BITS" of n bytes at s into net. */
static int
net_parse(const char *s, size_t n, struct cs_net *net)
{
	char text[64], *slash, *end;
	unsigned max;
	long bits;

	if (n >= sizeof(text))
		return cs_err_set(CS_EINVAL, "'%.40s...': not an address", s);
	memcpy(text, s, n);
	text[n] = '\0';
	if ((slash = strchr(text, '/')) != NULL)
		*slash = '\0';
	if (ip_parse(text, &net->family, net->addr) != 0)
		return cs_err_set(CS_EINVAL, "'%s': not an IP address", text);
	max = net->family == AF_INET ? 32 : 128;
	net->prefix = max;
	if (slash != NULL) {
		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > (long)max)
			return cs_err_set(CS_EINVAL, "'%s/%s': the prefix must be "
			    "0 to %u bits", text, slash + 1, max);
		net->prefix = (unsigned)bits;
	}
	return 0;
}

int
cs_netlist_parse(const char *text, cs_netlist *out)
{
	const char *p = text;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	while (*p != '\0') {
		p += strspn(p, ", \t");
		if ((n = strcspn(p, ", \t")) == 0)
			break;
		if (n == 1 && *p == '*') {
			out->any = 1;
		} else if (out->n == CS_NETLIST_MAX) {
			return cs_err_set(CS_EINVAL, "more than %d addresses",
			    CS_NETLIST_MAX);
		} else if ((rc = net_parse(p, n, &out->nets[out->n++])) != 0) {
			return rc;
		}
		p += n;
	}
	return 0;
}

static int
net_has(const struct cs_net *net, int family, const unsigned char *a)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));

	if (family != net->family || memcmp(a, net->addr, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ net->addr[full]) & mask) == 0;
}

int
cs_netlist_has(const cs_netlist *l, const char *addr)
{
	unsigned char a[16];
	size_t i;
	int family;

	if (l->any)
		return 1;
	/* Every request asks the (usually empty) trusted_proxies list. */
	if (l->n == 0 || ip_parse(addr, &family, a) != 0)
		return 0;
	for (i = 0; i < l->n; i++)
		if (net_has(&l->nets[i], family, a))
			return 1;
	return 0;
}
