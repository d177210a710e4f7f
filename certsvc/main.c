/* certsvc: the one binary; everything it does is in the library. */
#include "cli.h"

int
main(int argc, char **argv)
{
	return cs_cli_main(argc, argv);
}
