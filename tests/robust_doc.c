/* robust_doc.c — see robust_doc.h. */
#include "robust_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

void robust_doc_row(const char *area, const char *tried, const char *exit_status, const char *seen)
{
    const char *rows = getenv("SARA_ROBUSTNESS_ROWS");
    FILE *fp = rows ? fopen(rows, "a") : NULL;
    if (!fp)
        return;
    const char *cells[4] = {area, tried, exit_status, seen};
    const char *scratch = test_tmpdir();
    size_t tl = strlen(scratch);
    fputc('|', fp);
    for (int c = 0; c < 4; c++) {
        fputc(' ', fp);
        for (const char *p = cells[c]; *p; p++) {
            if (!strncmp(p, scratch, tl)) { /* scratch paths differ from run to run */
                fputs("$TMP", fp);
                p += tl - 1;
            } else if (*p == '|') {
                fputs("\\|", fp);
            } else {
                fputc(*p, fp);
            }
        }
        fputs(" |", fp);
    }
    fputc('\n', fp);
    fclose(fp);
}
