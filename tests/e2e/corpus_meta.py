"""The differential corpus of memcached's meta commands (mg ms md ma mn me):
request streams built by code, each sent to a fresh memcached and a fresh
xdpcached whose replies must match (see diffrun.py; corpus.py's rules hold
here too).

Besides corpus.py's rules, these streams avoid what depends on timing in
memcached itself:
  * `t` only where the TTL was set in the same command (T, N) or is none:
    a clock tick between two commands would change the remaining seconds.
  * `l` and me's `la` only right after the item was stored (one stream each;
    the harness retries a stream once).
  * No `ma ... T` on an existing counter and no shrinking in-place `ma`
    in the same write as an earlier `mg ... v` of it: memcached changes an
    item in place only when no unsent reply still holds it.
"""

from corpus import print_summary, Corpus, L, st, setv, K250, K251, ALL_BYTES
from helpers import udp_frame

CRLF = b"\r\n"
B64_FOO = b"Zm9v"                    # "foo"
B64_BIN = b"AAECAwQFBgcICQ=="         # bytes 0..9
OPAQUE_MAX = b"O" + b"9" * 31        # 32 bytes: the longest opaque accepted
OPAQUE_LONG = b"O" + b"9" * 32


def ms(key, value, *flags):
    """A meta set with its data block."""
    return L(b"ms", key, len(value), *flags) + value + CRLF


def mg_section(c):
    c.add("mg/miss_plain", L("mg", "a") + L("mg", "a", "v") + L("mg", "a", "k", "O1", "v", "s"))
    c.add("mg/hit_plain", setv(b"a", b"hello", 5) + L("mg", "a") + L("mg", "a", "v"))
    c.add("mg/every_return_flag", setv(b"a", b"hello", 77) +
          L("mg", "a", "v", "f", "s", "t", "c", "k", "h", "O123"))
    c.add("mg/flag_order", setv(b"a", b"xyz", 3) + L("mg", "a", "k", "s", "f", "v") +
          L("mg", "a", "O9", "c", "k", "s"))
    c.add("mg/flags_zero_and_max", setv(b"a", b"1", 0) + setv(b"b", b"2", 4294967295) +
          L("mg", "a", "f", "v") + L("mg", "b", "f", "v"))
    c.add("mg/hit_flag", setv(b"a", b"1") + L("mg", "a", "h") + L("mg", "a", "h") + L("get", "a") +
          L("mg", "a", "h"))
    c.add("mg/no_update_u", setv(b"a", b"1") + L("mg", "a", "u", "h") + L("mg", "a", "u", "h") +
          L("mg", "a", "h") + L("mg", "a", "h"))
    c.add("mg/last_access", setv(b"a", b"1") + L("mg", "a", "l", "h"))
    c.add("mg/ttl_none", setv(b"a", b"1") + L("mg", "a", "t", "v"))
    c.add("mg/touch_T", setv(b"a", b"1") + L("mg", "a", "t", "T300", "t", "v") + L("mg", "a", "T0", "t"))
    c.add("mg/touch_T_zero_then_gets", setv(b"a", b"1", exptime=1000) + L("mg", "a", "T0") +
          L("mg", "a", "t"))
    c.add("mg/touch_T_negative_expires", setv(b"a", b"1") + L("mg", "a", "T-1") + L("mg", "a", "v"))
    c.add("mg/touch_miss", L("mg", "a", "T30", "v") + L("mg", "a", "T30", "q"))
    c.add("mg/cas_then_gets", setv(b"a", b"1") + L("mg", "a", "c") + L("gets", "a") + L("mg", "a", "c", "v"))
    c.add("mg/empty_value", setv(b"a", b"") + L("mg", "a", "v", "s"))
    c.add("mg/binary_value", setv(b"a", ALL_BYTES * 3) + L("mg", "a", "v", "s"))
    c.add("mg/value_looks_like_reply", setv(b"a", b"VA 2\r\nEN\r\n") + L("mg", "a", "v") + L("mg", "a", "v", "c"))
    c.add("mg/key_250", setv(K250, b"x") + L(b"mg", K250, b"v", b"k"))
    c.add("mg/opaque_max", setv(b"a", b"1") + L(b"mg", b"a", OPAQUE_MAX) + L(b"mg", b"b", OPAQUE_MAX))
    c.add("mg/opaque_any_bytes", L("mg", "a", "Oabc=/+", "k") + setv(b"a", b"1") + L("mg", "a", "Ox", "k"))
    c.add("mg/other_known_flags", setv(b"a", b"1") + L("mg", "a", "P1", "L2", "v") + L("mg", "a", "F5", "C1", "M1", "I"))
    c.add("mg/expired_item", st(b"set", b"a", b"1", exptime=-1) + L("mg", "a", "v") + L("mg", "a", "k"))


def vivify_section(c):
    c.add("vivify/miss_creates", L("mg", "a", "N30", "v", "c", "t", "s", "f") + L("mg", "a", "v", "t") +
          L("mg", "a", "v"))
    c.add("vivify/win_then_store", L("mg", "a", "N30", "v") + L("mg", "a", "N30", "v") +
          ms(b"a", b"new", b"T0") + L("mg", "a", "v", "N30"))
    c.add("vivify/hit_no_win", setv(b"a", b"1") + L("mg", "a", "N30", "v", "t"))
    c.add("vivify/T_after_N", L("mg", "a", "N30", "T300", "t") + L("mg", "b", "T300", "N30", "t"))
    c.add("vivify/quiet", L("mg", "a", "N30", "q") + L("mg", "a", "q", "v") + L("mn"))
    c.add("vivify/then_text_get", L("mg", "a", "N0") + L("get", "a") + L("gets", "a"))
    c.add("recache/R_wins_once", setv(b"a", b"1", exptime=100) + L("mg", "a", "R30", "v") +
          L("mg", "a", "R300", "v") + L("mg", "a", "R300", "v", "c"))
    c.add("recache/R_no_ttl", setv(b"a", b"1") + L("mg", "a", "R300", "v"))
    c.add("recache/R_after_T", setv(b"a", b"1") + L("mg", "a", "T10", "R300", "v") + L("mg", "a", "R300"))
    c.add("recache/R_before_T", setv(b"a", b"1") + L("mg", "a", "R300", "T10", "v"))


def stale_section(c):
    c.add("stale/md_invalidate", setv(b"a", b"1") + L("md", "a", "I") + L("mg", "a", "v", "c") +
          L("mg", "a", "v") + L("get", "a"))
    c.add("stale/md_invalidate_T", setv(b"a", b"1") + L("md", "a", "I", "T300") + L("mg", "a", "t", "v"))
    c.add("stale/md_T_without_I", setv(b"a", b"1") + L("md", "a", "T300") + L("mg", "a", "v"))
    c.add("stale/twice_resets_win", setv(b"a", b"1") + L("md", "a", "I") + L("mg", "a") + L("md", "a", "I") +
          L("mg", "a") + L("mg", "a"))
    c.add("stale/ms_I_older_cas", setv(b"a", b"1") + L("mg", "a", "c", "k") , (L("md", "a", "I") + ms(b"a", b"stale", b"I", b"C{mcas:a}") + L("mg", "a", "v")))
    c.add("stale/ms_I_newer_cas", setv(b"a", b"1") + L("mg", "a", "c", "k") , (ms(b"a", b"two", b"I", b"C{mcas:a:+1000}") + L("mg", "a", "v")))
    c.add("stale/ms_clears", setv(b"a", b"1") + L("md", "a", "I") + L("mg", "a") + ms(b"a", b"fresh") +
          L("mg", "a", "v"))
    c.add("stale/ms_I_plain_set", setv(b"a", b"1") + ms(b"a", b"2", b"I") + L("mg", "a", "v"))
    c.add("stale/md_invalidate_miss", L("md", "a", "I") + L("md", "a", "I", "q"))
    c.add("stale/incr_keeps", setv(b"a", b"10") + L("md", "a", "I") + L("incr", "a", "1") +
          L("mg", "a", "v"))
    c.add("stale/ma_keeps", setv(b"n", b"10") + L("md", "n", "I") + L("ma", "n", "v") + L("mg", "n", "v"))
    c.add("stale/touch_keeps", setv(b"a", b"1") + L("md", "a", "I") + L("mg", "a") + L("touch", "a", "0") +
          L("mg", "a", "v"))


def ms_section(c):
    c.add("ms/basic", ms(b"a", b"hello") + L("get", "a") + L("mg", "a", "v", "f"))
    c.add("ms/flags_ttl", ms(b"a", b"hi", b"F99", b"T0") + L("mg", "a", "f", "v", "t"))
    c.add("ms/return_flags", ms(b"a", b"hi", b"c", b"k", b"O77") + ms(b"a", b"ho", b"O1", b"k") +
          L("gets", "a"))
    c.add("ms/ignored_flags", ms(b"a", b"hi", b"v", b"s", b"t", b"f", b"h", b"l", b"u", b"N30", b"R30") +
          L("mg", "a", "v"))
    c.add("ms/mode_add", ms(b"a", b"1", b"ME") + ms(b"a", b"2", b"ME", b"c") + L("mg", "a", "v"))
    c.add("ms/mode_append_prepend", ms(b"a", b"mid", b"F5") + ms(b"a", b"end", b"MA", b"F9") +
          ms(b"a", b"start", b"MP") + L("mg", "a", "v", "f") + ms(b"b", b"x", b"MA") + ms(b"b", b"x", b"MP"))
    c.add("ms/mode_replace", ms(b"a", b"1", b"MR") + ms(b"a", b"1") + ms(b"a", b"2", b"MR") + L("mg", "a", "v"))
    c.add("ms/mode_set", ms(b"a", b"1", b"MS") + L("mg", "a", "v"))
    c.add("ms/cas_match", ms(b"a", b"1", b"c", b"k") , (ms(b"a", b"2", b"C{mcas:a}", b"c") + L("mg", "a", "v")))
    c.add("ms/cas_mismatch", ms(b"a", b"1", b"c", b"k") , (ms(b"a", b"2", b"C{mcas:a:+7}", b"c") +
                                                            L("mg", "a", "v")))
    c.add("ms/cas_missing", ms(b"a", b"1", b"C5") + ms(b"a", b"1", b"C5", b"MR") + ms(b"a", b"1", b"C0"))
    c.add("ms/cas_zero_existing", ms(b"a", b"1") + ms(b"a", b"2", b"C0") + L("mg", "a", "v"))
    c.add("ms/cas_with_add", ms(b"a", b"1", b"C5", b"ME") + ms(b"a", b"2", b"C5", b"ME") + L("mg", "a", "v"))
    c.add("ms/cas_with_append", ms(b"a", b"1", b"c", b"k") , (ms(b"a", b"2", b"MA", b"C{mcas:a}") + ms(b"a", b"3", b"MA", b"C1") + ms(b"a", b"4", b"MP", b"C0") +
               L("mg", "a", "v")))
    c.add("ms/empty_value", ms(b"a", b"") + L("mg", "a", "v", "s"))
    c.add("ms/binary_value", ms(b"a", ALL_BYTES * 2) + L("get", "a"))
    c.add("ms/quiet", ms(b"a", b"1", b"q") + ms(b"a", b"2", b"q", b"ME") + ms(b"b", b"2", b"q", b"MR") + L("mn"))
    c.add("ms/too_large", ms(b"a", b"1") + L("ms", "a", 2000000) + b"x" * 2000000 + CRLF + L("mg", "a", "v"))
    c.add("ms/max_value", ms(b"a", b"x" * 1048516, b"F0") + L("mg", "a", "s"))
    c.add("ms/over_max_value", ms(b"a", b"x" * 1048517) + L("mg", "a", "s"))
    c.add("ms/small_item_max", ms(b"a", b"x" * 600000) + ms(b"b", b"x" * 400000) + L("mg", "a", "s") +
          L("mg", "b", "s"), args=("-I", "512k"))
    c.add("ms/bad_data_chunk", L("ms", "a", 3) + b"abcde" + CRLF + L("mg", "a", "v"))
    c.add("ms/bad_data_chunk_quiet", L("ms", "a", 3, "q") + b"abcXY" + L("mg", "a", "v"))
    c.add("ms/then_text", ms(b"a", b"5") + L("incr", "a", "5") + L("append", "a", 0, 0, 1) + b"x\r\n" +
          L("mg", "a", "v"))
    c.add("ms/key_250", ms(K250, b"v", b"k") + L(b"get", K250))


def md_section(c):
    c.add("md/hit_miss", setv(b"a", b"1") + L("md", "a") + L("md", "a") + L("get", "a"))
    c.add("md/return_flags", setv(b"a", b"1") + L("md", "a", "O5", "k") + L("md", "a", "k", "O6"))
    c.add("md/quiet", setv(b"a", b"1") + L("md", "a", "q") + L("md", "a", "q") + L("mn"))
    c.add("md/cas", setv(b"a", b"1") + L("mg", "a", "c", "k") , (L("md", "a", "C{mcas:a:+1}") + L("md", "a", "C{mcas:a}") + L("mg", "a")))
    c.add("md/cas_zero", setv(b"a", b"1") + L("md", "a", "C0") + L("mg", "a"))
    c.add("md/ignored_flags", setv(b"a", b"1") + L("md", "a", "v", "s", "N30") + L("mg", "a"))


def ma_section(c):
    c.add("ma/basic", setv(b"n", b"5") + L("ma", "n") + L("ma", "n", "v") + L("get", "n"))
    c.add("ma/miss", L("ma", "n") + L("ma", "n", "v", "O1", "k") + L("ma", "n", "MD"))
    c.add("ma/vivify", L("ma", "n", "N0") + L("ma", "m", "N0", "J42", "v") + L("ma", "m", "v") +
          L("mg", "m", "v", "f", "t"))
    c.add("ma/vivify_ttl", L("ma", "n", "N300", "J7", "v", "t") + L("ma", "m", "N0", "t", "T300", "t", "v"))
    c.add("ma/modes", setv(b"n", b"100") + L("ma", "n", "MI", "v") + L("ma", "n", "M+", "D9", "v") +
          L("ma", "n", "MD", "v") + L("ma", "n", "M-", "D10", "v"))
    c.add("ma/decr_floor", setv(b"n", b"3") + L("ma", "n", "MD", "D10", "v"))
    c.add("ma/decr_pads_in_place", setv(b"n", b"100") + L("ma", "n", "MD", "D95", "v") , (L("get", "n")) , (L("mg", "n", "v", "s")))
    c.add("ma/incr_wrap", setv(b"n", b"18446744073709551615") + L("ma", "n", "v"))
    c.add("ma/big_delta", setv(b"n", b"1") + L("ma", "n", "D18446744073709551614", "v"))
    c.add("ma/grows", setv(b"n", b"99") + L("ma", "n", "v") + L("mg", "n", "v", "s"))
    c.add("ma/return_flags", setv(b"n", b"1") + L("ma", "n", "c", "t", "k", "O3") + L("gets", "n"))
    c.add("ma/cas", setv(b"n", b"1") + L("mg", "n", "c", "k") , (L("ma", "n", "C{mcas:n:+1}") + L("ma", "n", "C{mcas:n}", "v") + L("ma", "n", "C0", "v")))
    c.add("ma/quiet", setv(b"n", b"1") + L("ma", "n", "q") + L("ma", "n", "q", "v") + L("ma", "x", "q") +
          L("ma", "y", "q", "N0") + L("mn") + L("mg", "n", "v"))
    c.add("ma/non_numeric", setv(b"n", b"abc") + L("ma", "n") + setv(b"e", b"") + L("ma", "e") +
          L("ma", "e", "C1") + L("ma", "n", "C1"))
    c.add("ma/flags_kept", setv(b"n", b"9", 33) + L("ma", "n") + L("mg", "n", "v", "f"))


def base64_section(c):
    c.add("b64/set_get", ms(B64_FOO, b"bar", b"b", b"k") + L(b"mg", B64_FOO, b"b", b"k", b"v") +
          L("mg", "foo", "k", "v") + L("get", "foo"))
    c.add("b64/binary_key", ms(B64_BIN, b"bin", b"b", b"k", b"c") + L(b"mg", B64_BIN, b"b", b"v", b"k"))
    c.add("b64/text_key_read_b64", setv(b"foo", b"1") + L(b"mg", B64_FOO, b"b", b"k", b"v"))
    c.add("b64/miss", L(b"mg", B64_FOO, b"b", b"k", b"O1") + L(b"md", B64_FOO, b"b", b"k") +
          L(b"ma", B64_FOO, b"b", b"k"))
    c.add("b64/md_ma", ms(B64_FOO, b"1", b"b") + L(b"ma", B64_FOO, b"b", b"v", b"k") +
          L(b"md", B64_FOO, b"b", b"k") + L("mg", "foo"))
    c.add("b64/padding_forms", ms(b"YQ==", b"1", b"b") + ms(b"YWI=", b"2", b"b") + L("mg", "a", "v") +
          L("mg", "ab", "v") + L(b"mg", b"YQ", b"b") + L(b"mg", b"Y===", b"b") + L(b"mg", b"YQ==YQ==", b"b", b"k"))
    c.add("b64/skips_junk", ms(b"Z!m9-v", b"1", b"b", b"k") + L("mg", "foo", "v"))
    c.add("b64/bad", L(b"mg", b"****", b"b") + L(b"md", b"a", b"b") + L(b"ma", b"abc", b"b") +
          L(b"ms", b"a", 1, b"b") + b"x\r\n" + L("mn"))
    c.add("b64/vivify_keeps_raw_key", L(b"mg", B64_FOO, b"b", b"N30", b"k"))


def me_section(c):
    c.add("me/basic", L("me", "a") + setv(b"a", b"hello") + L("me", "a"))
    c.add("me/sizes", setv(b"a", b"x" * 100, 1) + setv(b"b", b"y" * 5000) + L("mg", "a") + L("me", "a") +
          L("me", "b"))
    c.add("me/b64", ms(B64_FOO, b"1", b"b") + L(b"me", B64_FOO, b"b") + L("me", "foo") + L(b"me", b"**", b"b"))


def pipeline_section(c):
    c.add("pipe/quiet_gets_mn", setv(b"a", b"1") + setv(b"c", b"3") +
          L("mg", "a", "v", "q", "k") + L("mg", "b", "v", "q", "k") + L("mg", "c", "v", "q", "k") + L("mn"))
    c.add("pipe/mixed_text_meta", setv(b"a", b"1") + L("mg", "a", "v") + L("get", "a") + ms(b"b", b"2") +
          L("gets", "b") + L("md", "a") + L("delete", "b") + L("mn") + L("version"))
    c.add("pipe/many_mn", L("mn") * 5 + L("mn", "extra", "tokens"))
    c.add("pipe/quiet_errors_shown", L("mg", "a", "q", "zz") + L("md", "a", "q", "zz") + L("ms", "a", "x", "q") +
          L("mn"))
    c.tcp_variants("split/set_get", ms(b"a", b"hello world", b"F3", b"c") + L("mg", "a", "v", "f", "q") +
                   L("mg", "b", "v", "q") + L("mn"))
    c.tcp_variants("split/arith", L("ma", "n", "N0", "J5", "v") + L("ma", "n", "D3", "v") + L("md", "n", "q") +
                   L("mn"))
    c.tcp_variants("split/errors", L("mg", "a", "v", "v") + L("ms", "a", 2, "zz") + b"hi\r\n" + L("mn"))


def malformed_section(c):
    c.add("bad/command_alone", L("mg") + L("ms") + L("md") + L("ma") + L("me"))
    c.add("bad/unknown_meta", L("mz", "a") + L("mx") + L("m") + L("mgg", "a") + L("MG", "a"))
    c.add("bad/key_251", L(b"mg", K251, b"v") + L(b"md", K251) + L(b"ma", K251) + L(b"me", K251) +
          L(b"ms", K251, 1) + b"x\r\n")
    c.add("bad/duplicate_flag", L("mg", "a", "v", "v") + L("md", "a", "q", "q") + L("ma", "a", "v", "v") +
          ms(b"a", b"1", b"T1", b"T2"))
    c.add("bad/invalid_flag", L("mg", "a", "x") + L("md", "a", "x") + L("ma", "a", "x") + ms(b"a", b"1", b"x") +
          L("mg", "a", "9"))
    c.add("bad/high_byte_flag", L(b"mg", b"a", b"\xffx") + L(b"mg", b"a", b"\x7f"))
    c.add("bad/bad_numbers", L("mg", "a", "Tx") + L("mg", "a", "N") + L("mg", "a", "R1x") +
          L("ma", "a", "Dx") + L("ma", "a", "J-1") + L("ma", "a", "C1x") + L("md", "a", "Cx"))
    c.add("bad/bad_numbers_ms", ms(b"a", b"1", b"Fx") + ms(b"a", b"1", b"F-1") + ms(b"a", b"1", b"Cx") +
          ms(b"a", b"1", b"Tq") + ms(b"a", b"1", b"F4294967296") + L("mg", "a", "f", "v"))
    c.add("bad/last_error_wins", ms(b"a", b"1", b"Tx", b"Fx") + ms(b"a", b"1", b"Fx", b"Tx") +
          ms(b"a", b"1", b"Fx"))
    c.add("bad/mode", ms(b"a", b"1", b"MX") + ms(b"a", b"1", b"Ms") + ms(b"a", b"1", b"MSS") +
          L("ma", "a", "MX") + L("ma", "a", "Mi") + L("ma", "a", "M"))
    c.add("bad/opaque_too_long", L(b"mg", b"a", OPAQUE_LONG) + setv(b"a", b"1") + L(b"mg", b"a", OPAQUE_LONG) +
          L(b"md", b"a", OPAQUE_LONG) + L(b"ma", b"a", OPAQUE_LONG) + ms(b"a", b"2", OPAQUE_LONG) + L("mg", "a", "v"))
    c.add("bad/opaque_too_long_after_T", setv(b"a", b"1") + L(b"mg", b"a", b"T-1", OPAQUE_LONG) +
          L("mg", "a", "v"))
    c.add("bad/ms_length", L("ms", "a", "x") + L("ms", "a", "-1") + L("ms", "a", "2147483647") +
          L("ms", "a", "1x") + L("ms", "a", "") + L("mn"))
    c.add("bad/ms_no_length", L("ms", "a") + L("ms", "a", " ") + L("mn"))
    c.add("bad/too_many_tokens", L("mg", "a", *["O%d" % i for i in range(1)], *"v s t c f h k q u l".split(),
                                     "P1", "L1", "I", "F1", "D1", "J1", "C1", "M1") +
          L("mg", "a", *"v s t c f h k q u l".split(), "P1", "L1", "I", "F1", "D1", "J1", "C1"))
    c.add("bad/too_many_tokens_each", L("md", "a", *["x%d" % i for i in range(19)]) +
          L("ma", "a", *["x%d" % i for i in range(19)]) + L("ms", "a", 1, *["x%d" % i for i in range(17)]) +
          b"z\r\n" + L("ms", "a", 1, *["x%d" % i for i in range(16)]) + b"z\r\n")
    c.add("bad/tokenizer_limit", L("mg", "a", *["x%d" % i for i in range(30)]) + L("mn"))
    c.add("bad/ms_error_swallows", ms(b"a", b"mn\r\nmg a", b"x") + L("mn"))
    c.add("bad/ms_short_data", L("ms", "a", 10) + b"abc\r\n" + L("mn") + b"\r\n" + L("mg", "a", "v"))
    c.add("bad/b64_decode_errors", L(b"mg", b"!!!!", b"b") + L(b"mg", b"abc", b"b") + L(b"mg", b"====", b"b") +
          L(b"mg", b"a===", b"b") + ms(b"abc", b"1", b"b") + L(b"md", b"abc", b"b") + L(b"me", b"abc", b"b"))
    c.add("bad/b64_dup", L(b"mg", B64_FOO, b"b", b"b"))
    c.add("bad/me_forms", L("me") + L("me", "a", "b") + L("me", "a", "x", "y") + L(b"me", b"YQ==", b"b", b"x"))
    c.add("bad/spaces", b"mg  a   v\r\n" + b"mg a v \r\n" + b" mg a\r\n" + b"mn   \r\n" + b"ms a  1\r\nx\r\n" +
          L("mg", "a", "v"))
    c.add("bad/lf_only", b"ms a 1\nx\r\nmg a v\nmn\n")
    c.add("bad/empty_tokens", L("mg", "a", "O") + L("mg", "a", "k", "T") + L("ma", "a", "D") + L("md", "a", "C"))
    c.add("bad/quiet_mn_only", L("mg", "a", "q") + L("md", "a", "q") + L("mn"))
    c.add("bad/http_like", L("mg", "HTTP/1.1"))
    c.add("bad/explicit_cas_E", ms(b"k", b"x", b"E5") + L("mg", "k", "E5") + L("md", "k", "E5") +
          L("ma", "k", "E5") + L("mg", "k"), note="E (explicit CAS) came after 1.6.18: an invalid flag there")
    c.add("bad/noreply_word", setv(b"a", b"1") + L("mg", "a", "noreply") + L("md", "a", "noreply"))


def udp_section(c):
    F = udp_frame
    c.udp("meta/set_get", F(1, ms(b"a", b"hello", b"F5")), F(2, L("mg", "a", "v", "f", "k", "s")),
          F(3, L("mg", "b", "v")))
    c.udp("meta/quiet_pipeline", F(1, ms(b"a", b"1") + ms(b"c", b"3")),
          F(2, L("mg", "a", "v", "q") + L("mg", "b", "v", "q") + L("mg", "c", "v", "q") + L("mn")),
          F(3, L("mg", "b", "q") + L("mg", "d", "q")))
    c.udp("meta/big_value", F(1, ms(b"big", ALL_BYTES * 19 + b"x" * 136)), F(2, L("mg", "big", "v", "s")))
    c.udp("meta/mn_twice", F(1, L("mn") + L("mn")), F(2, L("mg", "a") + L("mn") + L("mg", "b")))
    c.udp("meta/arith_delete", F(1, L("ma", "n", "N0", "J9", "v")), F(2, L("ma", "n", "v") + L("md", "n", "q")),
          F(3, L("md", "n") + L("ma", "n")))
    c.udp("meta/errors", F(1, L("mg", "a", "zz") + L("mg") + L("ms", "a", 1, "zz") + b"x\r\n"),
          F(2, ms(b"a", b"x", b"MX") + L("mn")))
    c.udp("meta/stale_win", F(1, ms(b"a", b"1")), F(2, L("md", "a", "I")), F(3, L("mg", "a", "v")),
          F(4, L("mg", "a", "v")))
    c.udp("meta/ms_pair", F(1, ms(b"a", b"1", b"q") + ms(b"b", b"2") + ms(b"c", b"3", b"MR")),
          F(2, L("mg", "a", "v") + L("mg", "b", "v")))
    c.udp("meta/opaque_k_b64", F(1, ms(B64_FOO, b"v", b"b")), F(2, L(b"mg", B64_FOO, b"b", b"k", b"O42", b"v")))


def build():
    c = Corpus()
    for section in (mg_section, vivify_section, stale_section, ms_section, md_section, ma_section,
                    base64_section, me_section, pipeline_section, malformed_section, udp_section):
        section(c)
    return c.streams


if __name__ == "__main__":
    print_summary(build())
