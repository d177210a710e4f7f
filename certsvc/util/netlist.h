/*
 * netlist: a list of IP addresses and networks ("127.0.0.1, 10.0.0.0/8,
 * ::1, fd00::/8"), as the trusted_proxies and metrics_allow settings give
 * them, and whether an address is in it.  "*" is every address.
 *
 * Addresses are compared as bytes: IPv4 as 4, IPv6 as 16, and an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 one, since that is
 * how a dual-stack listener reports an IPv4 peer.
 */
#ifndef CS_NETLIST_H
#define CS_NETLIST_H

#include <stddef.h>

#define CS_NETLIST_MAX 32

typedef struct cs_netlist {
	size_t n;
	int any;                  /* "*": every address */
	struct cs_net {
		int family;           /* AF_INET or AF_INET6 */
		unsigned char addr[16];
		unsigned prefix;      /* bits */
	} nets[CS_NETLIST_MAX];
} cs_netlist;

/* Parse text (comma- or space-separated; "" is the empty list) into out.
 * CS_EINVAL naming the entry and why ("10.0.0.0/33: prefix longer than
 * 32 bits"). */
int cs_netlist_parse(const char *text, cs_netlist *out);
/* Whether the address (text, as inet_ntop writes it) is in the list; an
 * address that does not parse is in no list but "*". */
int cs_netlist_has(const cs_netlist *l, const char *addr);
/* Whether text is one IP address (v4 or v6). */
int cs_ip_valid(const char *text);

#endif
