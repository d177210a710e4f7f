/*
 * text: UTF-8 as every layer reads and writes it.  One decoder, strict as RFC 3629
 * and Unicode's table 3-7 of well-formed sequences: no overlong form, no
 * surrogate (U+D800-U+DFFF), nothing past U+10FFFF, no sequence cut short.
 * What a caller refuses on top of that (control characters, invisible
 * ones, line separators in logs) is the caller's policy, not the
 * decoder's.
 *
 * Pure functions of their arguments: reads stop at the length given (or
 * at the NUL of a string), so they are safe on hostile input.
 */
#ifndef CS_TEXT_H
#define CS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The well-formed sequence that starts s[0..n): its length in bytes (1-4),
 * with its code point in *cp (optional).  0 when the bytes there are not
 * one (or n is 0); *cp is then left as it was. */
size_t cs_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* cp written as UTF-8 into out: its length (1-4); 0, and nothing written,
 * for a surrogate or a value past U+10FFFF, which no text may hold. */
size_t cs_utf8_encode(uint32_t cp, char out[4]);

/* The characters of s[0..n) as a person counts them: every byte that does
 * not continue a sequence counts one, so a stray byte counts as a
 * character, not as nothing.  For lengths of text already checked or only
 * shown; it checks nothing. */
size_t cs_utf8_count(const char *s, size_t n);

/* The longest prefix of s[0..n) of at most max bytes that does not end
 * inside a sequence: where to cut text that must stay UTF-8. */
size_t cs_utf8_cut(const char *s, size_t n, size_t max);

/* Replace, in place, every byte of s that is not part of a well-formed
 * sequence with '?'.  Error messages are kept so (cs_err_set does it), and
 * so must any text that quotes input into a JSON answer: jansson refuses
 * invalid UTF-8, and the answer would lose it. */
void cs_utf8_scrub(char *s);

/* Whether word is one of list's words, separated by spaces, tabs or commas
 * (list may be NULL: no words).  For the short lists that say what a
 * parameter may be, fixed or configured (cors_origins). */
int cs_word_in(const char *list, const char *word);

#endif
