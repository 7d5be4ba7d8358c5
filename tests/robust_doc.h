/* robust_doc.h — rows of docs/ROBUSTNESS.md, written by the robustness tests themselves: with
 * SARA_ROBUSTNESS_ROWS=FILE in the environment (`make robustness-doc`), each case appends one
 * Markdown table row to FILE; otherwise nothing happens. */
#ifndef SARA_TESTS_ROBUST_DOC_H
#define SARA_TESTS_ROBUST_DOC_H

/* "| area | tried | exit | seen |", the scratch folder written $TMP and '|' escaped. */
void robust_doc_row(const char *area, const char *tried, const char *exit_status, const char *seen);

#endif
