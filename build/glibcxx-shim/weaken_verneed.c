/* Marks one version requirement (a Vernaux entry of .gnu.version_r) of an ELF64 shared
 * object weak (VER_FLG_WEAK), so the dynamic loader accepts a library that lacks it.
 * usage: weaken_verneed FILE VERSION      exit 0: marked (or already weak); 1: not found; 2: error */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *file) {
    fprintf(stderr, "weaken_verneed: %s: %s\n", file, what);
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: weaken_verneed FILE VERSION\n"); return 2; }
    FILE *f = fopen(argv[1], "r+b");
    if (!f) return fail("cannot open", argv[1]);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned char *image = malloc((size_t)size);
    fseek(f, 0, SEEK_SET);
    if (!image || fread(image, 1, (size_t)size, f) != (size_t)size) return fail("cannot read", argv[1]);

    Elf64_Ehdr *eh = (Elf64_Ehdr *)image;
    if (size < (long)sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
        return fail("not an ELF64 file", argv[1]);
    Elf64_Shdr *sections = (Elf64_Shdr *)(image + eh->e_shoff);
    for (int s = 0; s < eh->e_shnum; s++) {
        if (sections[s].sh_type != SHT_GNU_verneed) continue;
        const char *names = (const char *)image + sections[sections[s].sh_link].sh_offset;
        unsigned char *need = image + sections[s].sh_offset;
        for (;;) {
            Elf64_Verneed *vn = (Elf64_Verneed *)need;
            unsigned char *aux = need + vn->vn_aux;
            for (int a = 0; a < vn->vn_cnt; a++) {
                Elf64_Vernaux *va = (Elf64_Vernaux *)aux;
                if (strcmp(names + va->vna_name, argv[2]) == 0) {
                    va->vna_flags |= VER_FLG_WEAK;
                    long offset = (long)((unsigned char *)&va->vna_flags - image);
                    fseek(f, offset, SEEK_SET);
                    if (fwrite(&va->vna_flags, sizeof va->vna_flags, 1, f) != 1) return fail("cannot write", argv[1]);
                    fclose(f);
                    return 0;
                }
                aux += va->vna_next;
            }
            if (vn->vn_next == 0) break;
            need += vn->vn_next;
        }
    }
    fprintf(stderr, "weaken_verneed: %s: no requirement named %s\n", argv[1], argv[2]);
    return 1;
}
