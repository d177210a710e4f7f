/* netlist: addresses and networks of trusted_proxies and metrics_allow. */
#include "netlist.h"

#include <string.h>

#include "check.h"
#include "cs_err.h"

static void
test_v4_networks(void)
{
	cs_netlist l;

	CHECK_INT_EQ(cs_netlist_parse("127.0.0.1, 10.0.0.0/8 192.168.1.128/25", &l), 0);
	CHECK_INT_EQ(l.n, 3);
	CHECK(cs_netlist_has(&l, "127.0.0.1"));
	CHECK(!cs_netlist_has(&l, "127.0.0.2"));
	CHECK(cs_netlist_has(&l, "10.255.1.2"));
	CHECK(!cs_netlist_has(&l, "11.0.0.1"));
	CHECK(cs_netlist_has(&l, "192.168.1.200"));
	CHECK(!cs_netlist_has(&l, "192.168.1.127"));
	/* A dual-stack listener reports an IPv4 peer as ::ffff:a.b.c.d. */
	CHECK(cs_netlist_has(&l, "::ffff:10.0.0.1"));
	CHECK(!cs_netlist_has(&l, "not an address"));
	CHECK(!cs_netlist_has(&l, ""));
}

static void
test_v6_and_any(void)
{
	cs_netlist l;

	CHECK_INT_EQ(cs_netlist_parse("::1,fd00::/8", &l), 0);
	CHECK(cs_netlist_has(&l, "::1"));
	CHECK(cs_netlist_has(&l, "fd12:3456::1"));
	CHECK(!cs_netlist_has(&l, "fe80::1"));
	CHECK(!cs_netlist_has(&l, "127.0.0.1"));
	CHECK_INT_EQ(cs_netlist_parse("*", &l), 0);
	CHECK(cs_netlist_has(&l, "203.0.113.9") && cs_netlist_has(&l, "2001:db8::1"));
	CHECK_INT_EQ(cs_netlist_parse("", &l), 0);
	CHECK(!cs_netlist_has(&l, "127.0.0.1"));
	CHECK_INT_EQ(cs_netlist_parse("0.0.0.0/0", &l), 0);
	CHECK(cs_netlist_has(&l, "203.0.113.9") && !cs_netlist_has(&l, "::1"));
}

static void
test_refused(void)
{
	cs_netlist l;

	CHECK_INT_EQ(cs_netlist_parse("10.0.0.0/33", &l), CS_EINVAL);
	CHECK(strstr(cs_err_msg(), "0 to 32 bits") != NULL);
	CHECK_INT_EQ(cs_netlist_parse("::/129", &l), CS_EINVAL);
	CHECK_INT_EQ(cs_netlist_parse("10.0.0.0/", &l), CS_EINVAL);
	CHECK_INT_EQ(cs_netlist_parse("10.0.0.0/8x", &l), CS_EINVAL);
	CHECK_INT_EQ(cs_netlist_parse("example.org", &l), CS_EINVAL);
	CHECK(strstr(cs_err_msg(), "'example.org': not an IP address") != NULL);
	CHECK_INT_EQ(cs_netlist_parse("10.0.0.1:80", &l), CS_EINVAL);
	CHECK(!cs_ip_valid("10.0.0.1:80") && !cs_ip_valid("[::1]") && cs_ip_valid("::1"));
}

int
main(int argc, char **argv)
{
	check_args(argc, argv);
	RUN(v4_networks);
	RUN(v6_and_any);
	RUN(refused);
	return check_summary();
}
