/* Stand-in for KubeVirt's container-disk: like upstream it is C, linked statically by
 * the spec because it runs in an otherwise empty (scratch) image. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--version") != 0)) {
        fprintf(stderr, "usage: container-disk [--version]\n");
        return 2;
    }
    puts("container-disk");
    return 0;
}
