#!/usr/bin/env python3
"""Generates cases.toml (the oracle case table). Edit this file, re-run it, then re-record:
    python3 conformance/oracle/gen_cases.py > conformance/oracle/cases.toml
    cargo xtask oracle record
Steps are the raw-byte case format of fixtures/src/raw_case.rs; strings are written by hand in
the byte notation (crates/harness/README.md, "Byte notation"; parsed by fixtures/src/notation.rs):
\\0 \\n \\r \\t \\\\ \\xHH, placeholders {corpus} {eicar} {eicar:A:B}, {{ = literal brace."""

cases = []

def send(s):  # s is already in notation
    return "{ send = '%s' }" % s

def case(name, rules, steps, profile='main', compare=None, transport=None, wait_ms=None,
         probe_alive=False, end_racy=False, note=None):
    cases.append(dict(name=name, rules=rules, steps=steps, profile=profile, compare=compare,
                      transport=transport, wait_ms=wait_ms, probe_alive=probe_alive,
                      end_racy=end_racy, note=note))

def frame(fr, cmd):
    return {'z': 'z%s\\0' % cmd, 'n': 'n%s\\n' % cmd, 'legacy': '%s\\n' % cmd}[fr]

def be32(n):
    return ''.join('\\x%02x' % b for b in n.to_bytes(4, 'big'))

FR = ['z', 'n', 'legacy']
EICAR_CHUNK = be32(68) + '{eicar}'
CLEAN_CHUNK = be32(5) + 'hello'
TERM = '\\0\\0\\0\\0'

# --- commands x framing (CLAMD-CMD-*, CLAMD-FRAME-1..5) ---
for cmd, rules, cmp in [
    ('PING', ['CLAMD-CMD-1'], None), ('VERSION', ['CLAMD-CMD-2'], None),
    ('VERSIONCOMMANDS', ['CLAMD-CMD-3', 'CLAMD-FRAME-5'], None),
    ('STATS', ['CLAMD-CMD-7', 'CLAMD-FRAME-5'], 'stats'),
    ('DETSTATS', ['CLAMD-CMD-6', 'CLAMD-VER-2'], None), ('DETSTATSCLEAR', ['CLAMD-CMD-6', 'CLAMD-VER-2'], None),
    ('END', ['CLAMD-CMD-8'], None), ('FOO', ['CLAMD-CMD-9'], None),
    ('INSTREAM', ['CLAMD-FRAME-5'], None), ('ALLMATCHSCAN', ['CLAMD-PARSE-4'], None),
    ('SCAN', ['CLAMD-PARSE-4'], None),
]:
    for fr in FR:
        if cmd == 'INSTREAM' and fr != 'legacy':
            continue  # z/n INSTREAM are below
        case('cmd_%s_%s' % (cmd.lower(), fr), rules + ['CLAMD-FRAME-4'], [send(frame(fr, cmd))], compare=cmp)
case('cmd_idsession_legacy', ['CLAMD-SESSION-1', 'CLAMD-FRAME-5'], [send('IDSESSION\\n')])

# --- framing details (CLAMD-FRAME-*, CLAMD-PARSE-*) ---
raw = [
    ('frame_legacy_ping_noterm', 'PING', ['CLAMD-FRAME-3']),
    ('frame_legacy_ping_crlf', 'PING\\r\\n', ['CLAMD-FRAME-3']),
    ('frame_legacy_version_noterm', 'VERSION', ['CLAMD-FRAME-3']),
    ('frame_n_ping_crlf', 'nPING\\r\\n', ['CLAMD-FRAME-2']),
    ('frame_n_ping_crcrlflf', 'nPING\\r\\r\\n\\n', ['CLAMD-FRAME-2']),
    ('frame_z_ping_cr', 'zPING\\r\\0', ['CLAMD-FRAME-1']),
    ('frame_z_ping_trailing_space', 'zPING \\0', ['CLAMD-FRAME-1', 'CLAMD-FRAME-6']),
    ('frame_z_space_ping', 'z PING\\0', ['CLAMD-FRAME-6']),
    ('frame_legacy_space_ping', ' PING\\n', ['CLAMD-FRAME-6']),
    ('frame_upper_z_ping', 'ZPING\\0', ['CLAMD-FRAME-3']),
    ('frame_upper_n_ping', 'NPING\\n', ['CLAMD-FRAME-3']),
    ('frame_lone_lf', '\\n', ['CLAMD-FRAME-3']),
    ('frame_lone_crlf', '\\r\\n', ['CLAMD-FRAME-3']),
    ('frame_lone_nul', '\\0', ['CLAMD-FRAME-3']),
    ('frame_z_empty', 'z\\0', ['CLAMD-FRAME-7']),
    ('frame_n_empty', 'n\\n', ['CLAMD-FRAME-7']),
    ('frame_z_ping_then_nl_and_nul', 'zPING\\n\\0', ['CLAMD-FRAME-1']),
    ('parse_lowercase_ping', 'zping\\0', ['CLAMD-PARSE-1']),
    ('parse_ping_arg', 'zPING foo\\0', ['CLAMD-PARSE-3']),
    ('parse_ping_tab', 'zPING\\t\\0', ['CLAMD-PARSE-3']),
    ('parse_pingx', 'zPINGX\\0', ['CLAMD-PARSE-3']),
    ('parse_pin', 'zPIN\\0', ['CLAMD-PARSE-3']),
    ('parse_versioncommandsx', 'zVERSIONCOMMANDSX\\0', ['CLAMD-PARSE-3']),
    ('parse_versionx', 'zVERSIONX\\0', ['CLAMD-PARSE-3']),
    ('parse_stream_removed', 'zSTREAM\\0', ['CLAMD-PARSE-2']),
    ('parse_session_removed', 'zSESSION\\0', ['CLAMD-PARSE-2']),
    ('parse_http_get', 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n', ['CLAMD-PARSE-2']),
    ('parse_scan_no_arg_z', 'zSCAN\\0', ['CLAMD-PARSE-4']),
    ('parse_scan_empty_path', 'zSCAN \\0', ['CLAMD-PARSE-4']),
    ('parse_scan_two_spaces', 'zSCAN  {corpus}/clean.txt\\0', ['CLAMD-PARSE-4']),
    ('parse_scan_tab_separator', 'zSCAN\\t{corpus}/eicar.com\\0', ['CLAMD-PARSE-4']),
    ('parse_scanx_separator', 'zSCANX{corpus}/eicar.com\\0', ['CLAMD-PARSE-4']),
    ('parse_scan_trailing_space', 'zSCAN {corpus}/clean.txt \\0', ['CLAMD-PARSE-4', 'CLAMD-SCAN-1']),
    ('parse_contscan_no_arg', 'zCONTSCAN\\0', ['CLAMD-PARSE-4']),
    ('parse_z_path_with_newline', 'zSCAN {corpus}/no\\nsuch\\0', ['CLAMD-CLIENT-1']),
    ('parse_high_bytes', 'zSCAN {corpus}/\\xff\\xfe\\0', ['CLAMD-FRAME-10']),
    ('conn_pipelined_ping_ping', 'zPING\\0zPING\\0', ['CLAMD-CONN-3']),
    ('conn_ping_then_garbage', 'zPING\\0garbage', ['CLAMD-CONN-3']),
    ('conn_legacy_two_lines', 'PING\\nPING\\n', ['CLAMD-FRAME-3', 'CLAMD-CONN-3']),
    ('conn_n_ping_version', 'nPING\\nnVERSION\\n', ['CLAMD-CONN-3']),
    ('conn_version_then_ping', 'zVERSION\\0zPING\\0', ['CLAMD-CONN-3']),
]
for name, b, rules in raw:
    case(name, rules, [send(b)])

case('parse_n_scan_crlf', ['CLAMD-FRAME-2', 'CLAMD-CONN-3'], [send('nSCAN {corpus}/eicar.com\\r\\n')], compare='unordered',
     note='observed: Error processing command. ERROR plus the FOUND line (CLAMD-CONN-3 race: order may vary)')
case('conn_n_contscan_crlf', ['CLAMD-FRAME-2', 'CLAMD-CONN-3'], [send('nCONTSCAN {corpus}/clean.txt\\r\\n')], compare='unordered')
case('conn_n_ping_crlf_extra', ['CLAMD-FRAME-2', 'CLAMD-CONN-3'], [send('nVERSION\\r\\n')])
case('conn_z_scan_then_ping_same_packet', ['CLAMD-CONN-3'], [send('zSCAN {corpus}/clean.txt\\0zPING\\0')], compare='unordered')
case('conn_n_scan_then_garbage_same_packet', ['CLAMD-CONN-3'], [send('nSCAN {corpus}/eicar.com\\nx')], compare='unordered')
case('conn_z_scan_then_garbage_later', ['CLAMD-CONN-3'], [send('zSCAN {corpus}/clean.txt\\0'), '{ sleep_ms = 100 }', send('garbage')])
case('conn_fildes_tcp_two_extra_bytes', ['CLAMD-CONN-3', 'CLAMD-FILDES-3'], [send('zFILDES\\0XY')])

# split commands across sends (CLAMD-FRAME-3, -8)
case('split_z_ping_two_sends', ['CLAMD-FRAME-8'], [send('zPI'), '{ sleep_ms = 150 }', send('NG\\0')])
case('split_n_ping_two_sends', ['CLAMD-FRAME-8'], [send('nPI'), '{ sleep_ms = 150 }', send('NG\\n')])
case('split_legacy_ping_two_sends', ['CLAMD-FRAME-3'], [send('PI'), '{ sleep_ms = 150 }', send('NG\\n')])
case('split_n_ping_one_byte_sends', ['CLAMD-FRAME-8'], ["{ send_split = { bytes = 'nPING\\n', size = 1, gap_ms = 20 } }"])
case('split_z_versioncommands_one_byte_sends', ['CLAMD-FRAME-8'], ["{ send_split = { bytes = 'zVERSIONCOMMANDS\\0', size = 1, gap_ms = 10 } }"])
case('split_z_scan_one_byte_sends', ['CLAMD-FRAME-8'], ["{ send_split = { bytes = 'zSCAN {corpus}/eicar.com\\0', size = 1, gap_ms = 2 } }"])
case('split_z_terminator_alone', ['CLAMD-FRAME-8'], [send('zVERSION'), '{ sleep_ms = 150 }', send('\\0')])

# half-close (CLAMD-CONN-4, -6)
case('conn_halfclose_after_ping', ['CLAMD-CONN-4'], [send('zPING\\0'), '{ half_close = true }'])
case('conn_halfclose_after_scan', ['CLAMD-CONN-4'], [send('zSCAN {corpus}/eicar.com\\0'), '{ half_close = true }'])
case('conn_halfclose_before_terminator', ['CLAMD-CONN-4'], [send('zPING'), '{ half_close = true }'])
case('conn_halfclose_n_before_terminator', ['CLAMD-CONN-4'], [send('nPING'), '{ half_close = true }'])
case('conn_halfclose_nothing_sent', ['CLAMD-CONN-6', 'CLAMD-TRANS-3'], ['{ half_close = true }'])
case('conn_halfclose_legacy_noterm', ['CLAMD-FRAME-3', 'CLAMD-CONN-4'], [send('PING'), '{ half_close = true }'])

# over-long lines, 4104-byte buffer (CLAMD-TRANS-4, CLAMD-FRAME-9)
for mode, term in [('n', '\\n'), ('z', '\\0')]:
    for total in [4103, 4104, 4105, 4106, 5000]:
        n_a = total - 2
        case('long_%s_line_total_%d' % (mode, total), ['CLAMD-FRAME-9', 'CLAMD-TRANS-4'],
             [send(mode), '{ fill = { len = %d, byte = 65 } }' % n_a, send(term)])
case('long_legacy_4103_noterm', ['CLAMD-FRAME-3', 'CLAMD-FRAME-9'], ['{ fill = { len = 4103, byte = 65 } }'])
case('long_legacy_100000_then_lf', ['CLAMD-FRAME-3', 'CLAMD-FRAME-9'], ['{ fill = { len = 100000, byte = 65 } }', send('\\n')])
# SCAN path at the buffer edge: z + "SCAN " + path + \0 ; path = "/" + a*k
for plen in [4096, 4097, 4098]:
    case('long_z_scan_path_%d' % plen, ['CLAMD-FRAME-9', 'CLAMD-SCAN-1'],
         [send('zSCAN /'), '{ fill = { len = %d, byte = 97 } }' % (plen - 1), send('\\0')])

# --- path scans (section 7) ---
targets = [
    ('clean', 'clean.txt', False), ('eicar', 'eicar.com', False), ('missing', 'does-not-exist.txt', False),
    ('unreadable', 'unreadable.com', False), ('mixperm', 'mixperm', True), ('noaccess_dir', 'noaccess', True),
    ('fifo', 'fifo', False), ('symlink_file', 'link_eicar.com', False), ('symlink_dir', 'link_dir', True),
    ('symdir', 'symdir', True), ('onefound', 'onefound', True), ('onefound_slash', 'onefound/', True),
    ('cleandir', 'cleandir', True), ('emptydir', 'emptydir', True), ('empty_file', 'empty.txt', False),
    ('eicar_nl', 'eicar_nl.txt', False), ('eicar_embedded', 'eicar_embedded.txt', False),
    ('space_name', 'with space.com', False), ('colon_name', 'colon: name.txt', False),
    ('marker_a', 'marker_a.txt', False), ('markers_ab', 'markers_ab.txt', False),
    ('markers_ba', 'markers_ba.txt', False), ('zip_stored', 'eicar_stored.zip', False),
    ('zip_deflate', 'eicar_deflate.zip', False), ('tar_gz', 'eicar.tar.gz', False),
    ('zip_clean', 'clean.zip', False), ('double_slash', '/eicar.com', False),
    ('dotdot', 'mixed/../eicar.com', False), ('not_a_dir', 'clean.txt/x', False),
]
for cmd, rules in [('SCAN', ['CLAMD-SCAN-6']), ('CONTSCAN', ['CLAMD-SCAN-7']),
                   ('MULTISCAN', ['CLAMD-SCAN-8']), ('ALLMATCHSCAN', ['CLAMD-SCAN-9'])]:
    for tname, rel, is_dir in targets:
        # 1.4 texts, not the removed ones: `File path check failure`, no `lstat() failed`
        # (CLAMD-VER-3, CLAMD-REPLY-3); ALLMATCHSCAN is there (CLAMD-VER-2)
        extra = (['CLAMD-VER-3', 'CLAMD-REPLY-3'] if tname == 'missing' else []) + \
            (['CLAMD-VER-2'] if (cmd, tname) == ('ALLMATCHSCAN', 'eicar') else [])
        case('%s_%s' % (cmd.lower(), tname), rules + ['CLAMD-SCAN-3'] + extra,
             [send('z%s {corpus}/%s\\0' % (cmd, rel))], compare='unordered' if is_dir else None)
    for fr in ['n', 'legacy']:
        case('%s_%s_eicar' % (cmd.lower(), fr), rules + ['CLAMD-FRAME-4'],
             [send(frame(fr, '%s {corpus}/eicar.com' % cmd))])
    if cmd in ('CONTSCAN', 'MULTISCAN'):  # SCAN/ALLMATCHSCAN stop at the first hit: readdir order
        case('%s_mixed' % cmd.lower(), rules, [send('z%s {corpus}/mixed\\0' % cmd)], compare='unordered')
case('scan_dev_null', ['CLAMD-SCAN-3'], [send('zSCAN /dev/null\\0')])
case('scan_relative_path', ['CLAMD-PARSE-5'], [send('zSCAN does-not-exist-relative\\0')])

# --- INSTREAM (section 8) ---
for fr in ['z', 'n']:
    c = frame(fr, 'INSTREAM')
    case('instream_%s_clean' % fr, ['CLAMD-INSTREAM-1', 'CLAMD-INSTREAM-3'], [send(c + CLEAN_CHUNK + TERM)])
    case('instream_%s_eicar' % fr, ['CLAMD-INSTREAM-3', 'CLAMD-DET-1'], [send(c + EICAR_CHUNK + TERM)])
    case('instream_%s_zero_chunks' % fr, ['CLAMD-INSTREAM-3'], [send(c + TERM)])
    case('instream_%s_header_ffffffff' % fr, ['CLAMD-INSTREAM-4', 'CLAMD-INSTREAM-5'], [send(c + '\\xff\\xff\\xff\\xff')])
case('instream_eicar_one_byte_chunks', ['CLAMD-INSTREAM-1', 'CLAMD-DET-3', 'CLAMD-INSTREAM-2'],
     [send('zINSTREAM\\0'), "{ chunks_of = { bytes = '{eicar}', chunk = 1 } }", send(TERM)])
case('instream_eicar_chunks_of_7', ['CLAMD-INSTREAM-1', 'CLAMD-DET-3'],
     [send('zINSTREAM\\0'), "{ chunks_of = { bytes = '{eicar}', chunk = 7 } }", send(TERM)])
case('instream_eicar_1byte_sends', ['CLAMD-INSTREAM-1', 'CLAMD-DET-3'],
     ["{ send_split = { bytes = 'zINSTREAM\\0%s%s', size = 1, gap_ms = 1 } }" % (EICAR_CHUNK, TERM)])
case('instream_command_and_data_separate', ['CLAMD-INSTREAM-1'],
     [send('zINSTREAM\\0'), '{ sleep_ms = 100 }', send(EICAR_CHUNK), '{ sleep_ms = 100 }', send(TERM)])
case('instream_eicar_plus_newline', ['CLAMD-DET-3'], [send('zINSTREAM\\0' + be32(69) + '{eicar}\\n' + TERM)])
case('instream_markers', ['CLAMD-DET-6'], [send('zINSTREAM\\0' + be32(47) + 'CLAMD-ORACLE-MARKER-A and CLAMD-ORACLE-MARKER-B' + TERM)])
case('instream_header_80000000', ['CLAMD-INSTREAM-4'], [send('zINSTREAM\\0\\x80\\0\\0\\0')])
case('instream_exact_limit_64k_chunks', ['CLAMD-INSTREAM-4'],
     [send('zINSTREAM\\0'), '{ chunks = { total = 1048576, chunk = 65536, byte = 65 } }', send(TERM)])
case('instream_exact_limit_one_chunk', ['CLAMD-INSTREAM-4'],
     [send('zINSTREAM\\0'), '{ chunks = { total = 1048576, chunk = 1048576, byte = 65 } }', send(TERM)])
case('instream_limit_plus_one_64k_chunks', ['CLAMD-INSTREAM-4', 'CLAMD-INSTREAM-5'],
     [send('zINSTREAM\\0'), '{ chunks = { total = 1048577, chunk = 65536, byte = 65 } }', send(TERM)], end_racy=True)
case('instream_limit_plus_one_one_chunk', ['CLAMD-INSTREAM-4', 'CLAMD-INSTREAM-5', 'CLAMD-INSTREAM-8', 'CLAMD-REPLY-3'],
     [send('zINSTREAM\\0'), '{ chunks = { total = 1048577, chunk = 1048577, byte = 65 } }', send(TERM)], end_racy=True)
case('instream_limit_header_only', ['CLAMD-INSTREAM-4'], [send('zINSTREAM\\0' + be32(1048577))])
case('instream_limit_then_ping', ['CLAMD-INSTREAM-6'], [send('zINSTREAM\\0\\xff\\xff\\xff\\xff'), '{ sleep_ms = 100 }', send('zPING\\0')], end_racy=True)
case('instream_verdict_then_ping', ['CLAMD-INSTREAM-6', 'CLAMD-CONN-3', 'CLAMD-TRANS-2'], [send('zINSTREAM\\0' + CLEAN_CHUNK + TERM + 'zPING\\0')])
case('instream_no_terminator_halfclose', ['CLAMD-CONN-4'], [send('zINSTREAM\\0' + CLEAN_CHUNK), '{ half_close = true }'])
case('instream_truncated_header_halfclose', ['CLAMD-CONN-4'], [send('zINSTREAM\\0\\0\\0'), '{ half_close = true }'])
case('instream_truncated_data_halfclose', ['CLAMD-CONN-4'], [send('zINSTREAM\\0' + be32(10) + 'abc'), '{ half_close = true }'])
case('instream_terminator_then_halfclose', ['CLAMD-CONN-4'], [send('zINSTREAM\\0' + EICAR_CHUNK + TERM), '{ half_close = true }'])
case('instream_unix_eicar', ['CLAMD-TRANS-1'], [send('zINSTREAM\\0' + EICAR_CHUNK + TERM)], transport='unix')

# --- FILDES (section 9) ---
case('fildes_tcp_z', ['CLAMD-FILDES-3'], [send('zFILDES\\0X')])
case('fildes_tcp_n', ['CLAMD-FILDES-3'], [send('nFILDES\\nX')])
case('fildes_tcp_legacy', ['CLAMD-FILDES-3'], [send('FILDES\\nX')])
case('fildes_unix_no_fd', ['CLAMD-FILDES-3'], [send('zFILDES\\0X')], transport='unix')
case('fildes_unix_eicar', ['CLAMD-FILDES-1', 'CLAMD-FILDES-2'], ["{ send_fd = { bytes = 'zFILDES\\0X', path = '{corpus}/eicar.com' } }"], transport='unix')
case('fildes_unix_n_clean', ['CLAMD-FILDES-1', 'CLAMD-FILDES-2'], ["{ send_fd = { bytes = 'nFILDES\\nX', path = '{corpus}/clean.txt' } }"], transport='unix')
case('fildes_unix_unreadable_by_clamd', ['CLAMD-FILDES-2'], ["{ send_fd = { bytes = 'zFILDES\\0X', path = '{corpus}/unreadable.com' } }"], transport='unix')
case('fildes_unix_directory', ['CLAMD-FILDES-2'], ["{ send_fd = { bytes = 'zFILDES\\0X', path = '{corpus}/cleandir' } }"], transport='unix')
case('fildes_unix_fd_with_ping', ['CLAMD-FILDES-4'], ["{ send_fd = { bytes = 'zPING\\0', path = '{corpus}/clean.txt' } }"], transport='unix')
case('fildes_unix_fd_in_session_with_ping', ['CLAMD-FILDES-4', 'CLAMD-SESSION-10'],
     [send('zIDSESSION\\0'), '{ sleep_ms = 100 }', "{ send_fd = { bytes = 'zPING\\0', path = '{corpus}/clean.txt' } }"], transport='unix')
case('fildes_unix_session_eicar', ['CLAMD-FILDES-2', 'CLAMD-SESSION-3'],
     [send('zIDSESSION\\0'), '{ sleep_ms = 100 }', "{ send_fd = { bytes = 'zFILDES\\0X', path = '{corpus}/eicar.com' } }", '{ sleep_ms = 200 }', send('zEND\\0')], transport='unix')
case('unix_ping', ['CLAMD-TRANS-1'], [send('zPING\\0')], transport='unix')
case('unix_scan_eicar', ['CLAMD-TRANS-1'], [send('zSCAN {corpus}/eicar.com\\0')], transport='unix')

# --- IDSESSION (section 10) ---
S = 'zIDSESSION\\0'
case('session_ping_end', ['CLAMD-SESSION-3', 'CLAMD-SESSION-7'], [send(S + 'zPING\\0zEND\\0')])
case('session_end_only', ['CLAMD-SESSION-7'], [send(S + 'zEND\\0')])
case('session_n_framing', ['CLAMD-SESSION-1', 'CLAMD-SESSION-9'], [send('nIDSESSION\\nnPING\\nnVERSION\\nnEND\\n')])
case('session_mixed_framing', ['CLAMD-SESSION-9'], [send(S + 'nPING\\nzPING\\0zEND\\0')])
case('session_ping_version_versioncommands', ['CLAMD-SESSION-3'], [send(S + 'zPING\\0zVERSION\\0zVERSIONCOMMANDS\\0zEND\\0')])
case('session_stats', ['CLAMD-SESSION-3', 'CLAMD-CMD-7'], [send(S + 'zSTATS\\0zEND\\0')], compare='stats')
case('session_out_of_order', ['CLAMD-SESSION-4'],
     [send(S + 'zPING\\0zVERSION\\0zINSTREAM\\0' + CLEAN_CHUNK + TERM + 'zINSTREAM\\0' + EICAR_CHUNK + TERM + 'zPING\\0zEND\\0')], compare='unordered')
case('session_scans', ['CLAMD-SESSION-3', 'CLAMD-SESSION-10'],
     [send(S + 'zSCAN {corpus}/cleandir\\0zSCAN {corpus}/eicar.com\\0zSCAN {corpus}/does-not-exist\\0zSCAN {corpus}/mixperm\\0zEND\\0')], compare='unordered')
case('session_separate_sends', ['CLAMD-SESSION-3'],
     [send(S), '{ sleep_ms = 50 }', send('zPING\\0'), '{ sleep_ms = 50 }', send('zSCAN {corpus}/eicar.com\\0'), '{ sleep_ms = 100 }', send('zVERSION\\0'), '{ sleep_ms = 50 }', send('zEND\\0')])
case('session_after_end_ignored', ['CLAMD-SESSION-7'], [send(S + 'zPING\\0zEND\\0zPING\\0')])
case('session_100_versions', ['CLAMD-SESSION-11'], [send(S + 'zVERSION\\0' * 100 + 'zEND\\0')])
case('session_instream_limit', ['CLAMD-SESSION-10', 'CLAMD-INSTREAM-5'], [send(S + 'zPING\\0zINSTREAM\\0\\xff\\xff\\xff\\xff')], end_racy=True)
case('session_fildes_tcp', ['CLAMD-SESSION-10', 'CLAMD-FILDES-3'], [send(S + 'zFILDES\\0X')])
case('session_legacy_separate_send', ['CLAMD-SESSION-6'], [send(S + 'zPING\\0'), '{ sleep_ms = 200 }', send('PING\\n')])
case('session_legacy_separate_send_n', ['CLAMD-SESSION-6'], [send('nIDSESSION\\nnPING\\n'), '{ sleep_ms = 200 }', send('VERSION\\n')])
case('session_legacy_first', ['CLAMD-SESSION-6'], [send(S), '{ sleep_ms = 200 }', send('PING\\n')])
case('session_halfclose_after_end', ['CLAMD-CONN-4', 'CLAMD-SESSION-7'], [send(S + 'zPING\\0zEND\\0'), '{ half_close = true }'])
case('session_halfclose_without_end', ['CLAMD-SESSION-8'], [send(S + 'zPING\\0'), '{ sleep_ms = 100 }', '{ half_close = true }'])
for rej in ['CONTSCAN {corpus}/clean.txt', 'MULTISCAN {corpus}/clean.txt', 'ALLMATCHSCAN {corpus}/clean.txt',
            'RELOAD', 'DETSTATS', 'DETSTATSCLEAR', 'IDSESSION', 'FOO', 'ping', 'SCAN']:
    nm = rej.split(' ')[0].lower()
    if rej == 'ping': nm = 'lowercase_ping'
    if rej == 'SCAN': nm = 'scan_no_arg'
    case('session_rejects_%s' % nm, ['CLAMD-SESSION-5', 'CLAMD-SESSION-2'], [send(S + 'zPING\\0z%s\\0zPING\\0' % rej)],
         probe_alive=(rej == 'RELOAD'))
for rej in ['SHUTDOWN', 'QUIT']:
    case('session_rejects_%s' % rej.lower(), ['CLAMD-SESSION-5'], [send(S + 'zPING\\0z%s\\0' % rej)],
         profile='shutdown', probe_alive=True)

# --- found by the differential fuzzer (issue 18; crates/clamd-oracle/src/fuzz.rs) ---
# compare='session': clamd's own race (fuzz::race_records): after a closing error the scan and
# STATS replies are optional, and so is how (or whether) clamd closes (end_racy). STATS before
# FILDES or END-then-bytes is left to the fuzzer: clamd's STATS worker usually wins that race.
FS = dict(compare='session', end_racy=True, wait_ms=400, profile='isolated')
case('fuzzfound_session_rejected_drops_queued_streams', ['CLAMD-SESSION-4', 'CLAMD-SESSION-5'],
     [send(S + 'zVERSION\\0zPING\\0zINSTREAM\\0' + CLEAN_CHUNK + TERM + 'zINSTREAM\\0' + EICAR_CHUNK + TERM + 'zCONTSCAN {corpus}/clean.txt\\0')], **FS)
case('fuzzfound_session_bytes_after_end_pending_scan', ['CLAMD-SESSION-7'],
     [send('nIDSESSION\\nnSCAN {corpus}/limits/3m_then_marker.bin\\nnEND\\nnPING\\nnEND\\n')], **FS)
case('fuzzfound_session_bytes_after_end_pending_stream', ['CLAMD-SESSION-7'],
     [send('nIDSESSION\\nnINSTREAM\\n'), '{ chunks = { total = 900000, chunk = 65536, byte = 65 } }', send(TERM + 'nEND\\nnPING\\nnEND\\n')], **FS)
case('fuzzfound_session_limit_after_stream_and_ping', ['CLAMD-SESSION-10', 'CLAMD-INSTREAM-5'],
     [send(S + 'zINSTREAM\\0' + CLEAN_CHUNK + TERM + 'zPING\\0zINSTREAM\\0\\xff\\xff\\xff\\xff')], **FS)
case('fuzzfound_session_stats_is_queued', ['CLAMD-SESSION-4', 'CLAMD-CMD-7'],
     [send(S + 'zSTATS\\0zPING\\0zEND\\0')], **FS)
# a legacy FILDES inside a session is rejected at once: it does not wait for FILDES's extra byte
for tail, name in [('FILDES\\n', 'nl'), ('FILDES', 'bare')]:
    case('fuzzfound_session_legacy_fildes_%s' % name, ['CLAMD-SESSION-2', 'CLAMD-FILDES-1'],
         [send(S + 'zPING\\0zPING\\0'), '{ sleep_ms = 30 }', send(tail)])
for cmd in ['SCAN', 'CONTSCAN', 'ALLMATCHSCAN']:
    case('fuzzfound_%s_inode_order' % cmd.lower(), ['CLAMD-SCAN-6'], [send('z%s {corpus}/inodes\\0' % cmd)])
case('fuzzfound_multiscan_inode_order', ['CLAMD-SCAN-8'], [send('zMULTISCAN {corpus}/inodes\\0')], compare='unordered')

# --- FILDES with nothing after it inside a session (issue 18): clamd reads the byte after
# FILDES's terminator before it looks for a descriptor (CLAMD-FILDES-1), so END or EOF decides ---
for tr in ['tcp', 'unix']:
    t = 'unix' if tr == 'unix' else None
    FD = ['CLAMD-FILDES-3', 'CLAMD-SESSION-10']
    case('session_fildes_alone_%s_then_end' % tr, FD,
         [send(S + 'zFILDES\\0'), '{ sleep_ms = 200 }', send('zEND\\0')], transport=t)
    case('session_fildes_end_same_write_%s' % tr, FD, [send(S + 'zFILDES\\0zEND\\0')], transport=t)
    case('session_fildes_alone_%s_then_halfclose' % tr, FD + ['CLAMD-CONN-4'],
         [send(S + 'zFILDES\\0'), '{ sleep_ms = 200 }', '{ half_close = true }'], transport=t)
    case('session_fildes_after_ping_%s_then_end' % tr, FD + ['CLAMD-SESSION-4'],
         [send(S + 'zPING\\0zFILDES\\0'), '{ sleep_ms = 200 }', send('zEND\\0')], transport=t)
    case('session_fildes_after_stream_%s_then_end' % tr, FD + ['CLAMD-SESSION-4'],
         [send(S + 'zINSTREAM\\0' + CLEAN_CHUNK + TERM + 'zFILDES\\0'), '{ sleep_ms = 200 }', send('zEND\\0')],
         transport=t, compare='session', end_racy=True, wait_ms=400, profile='isolated')
    case('timeout_session_fildes_alone_%s' % tr, ['CLAMD-FILDES-3', 'CLAMD-SESSION-8'],
         [send(S + 'zFILDES\\0')], transport=t, profile='timeouts', wait_ms=5000)

# --- daemon control ---
for cmd in ['SHUTDOWN', 'QUIT']:
    for fr in FR:
        # QUIT stays an alias of SHUTDOWN (CLAMD-VER-3)
        vq = ['CLAMD-VER-3'] if cmd == 'QUIT' else []
        case('cmd_%s_%s' % (cmd.lower(), fr), ['CLAMD-CMD-5'] + vq, [send(frame(fr, cmd))], profile='shutdown', probe_alive=True)
for fr in FR:
    case('cmd_reload_%s' % fr, ['CLAMD-CMD-4'], [send(frame(fr, 'RELOAD'))], profile='reload', probe_alive=True)

# --- timeouts (section 11): CommandReadTimeout 1, ReadTimeout 2 ---
T = dict(profile='timeouts', wait_ms=5000)
case('timeout_silent_client', ['CLAMD-TIME-1', 'CLAMD-CONN-6', 'CLAMD-TIME-3', 'CLAMD-TRANS-3'], ['{ sleep_ms = 0 }'], **T)
case('timeout_partial_z', ['CLAMD-TIME-1'], [send('zPIN')], **T)
case('timeout_z_with_newline', ['CLAMD-FRAME-1', 'CLAMD-TIME-1'], [send('zPING\\n')], **T)
case('timeout_n_with_nul', ['CLAMD-FRAME-2', 'CLAMD-TIME-1'], [send('nPING\\0')], **T)
case('timeout_n_exact_4104_unterminated', ['CLAMD-FRAME-9', 'CLAMD-TIME-1'], [send('n'), '{ fill = { len = 4103, byte = 65 } }'], **T)
case('timeout_fildes_no_extra_byte', ['CLAMD-FILDES-3', 'CLAMD-TIME-1'], [send('zFILDES\\0')], **T)
case('timeout_instream_no_chunk', ['CLAMD-INSTREAM-7', 'CLAMD-TIME-2'], [send('zINSTREAM\\0')], **T)
case('timeout_instream_partial_chunk', ['CLAMD-INSTREAM-7', 'CLAMD-TIME-2'], [send('zINSTREAM\\0' + be32(10) + 'abc')], **T)
case('timeout_session_silent', ['CLAMD-SESSION-8', 'CLAMD-TIME-2'], [send(S + 'zPING\\0')], **T)
case('timeout_session_keepalive', ['CLAMD-SESSION-8', 'CLAMD-TIME-2'],
     [send(S + 'zPING\\0'), '{ sleep_ms = 1200 }', send('zPING\\0'), '{ sleep_ms = 1200 }', send('zPING\\0')], **T)
case('timeout_session_legacy_same_packet', ['CLAMD-SESSION-6'], [send(S + 'zPING\\0PING\\n')], **T)
case('timeout_idsession_only', ['CLAMD-SESSION-1', 'CLAMD-SESSION-8'], [send(S)], **T)
case('timeout_session_partial_command', ['CLAMD-SESSION-8'], [send(S + 'zPING\\0zPI')], **T)

# --- other profiles ---
case('threads1_multiscan_cleandir', ['CLAMD-SCAN-8'], [send('zMULTISCAN {corpus}/cleandir\\0')], profile='threads1', compare='unordered')
case('threads1_multiscan_file', ['CLAMD-SCAN-8'], [send('zMULTISCAN {corpus}/eicar.com\\0')], profile='threads1')
case('threads1_scan_file', ['CLAMD-SCAN-8'], [send('zSCAN {corpus}/eicar.com\\0')], profile='threads1')
for t in ['clean.txt', 'eicar.com', 'cleandir']:
    case('noallmatch_allmatchscan_%s' % t.split('.')[0], ['CLAMD-SCAN-9'], [send('zALLMATCHSCAN {corpus}/%s\\0' % t)], profile='noallmatch')
case('noallmatch_scan_eicar', ['CLAMD-SCAN-9'], [send('zSCAN {corpus}/eicar.com\\0')], profile='noallmatch')
for cmd in ['SCAN', 'CONTSCAN']:
    for t, d in [('link_eicar.com', False), ('link_dir', True), ('symdir', True)]:
        case('follow_%s_%s' % (cmd.lower(), t.split('.')[0]), ['CLAMD-SCAN-5'], [send('z%s {corpus}/%s\\0' % (cmd, t))],
             profile='follow', compare='unordered' if d else None)
for cmd in ['SCAN', 'CONTSCAN', 'MULTISCAN']:
    case('walk_%s_cleandir' % cmd.lower(), ['CLAMD-SCAN-11'], [send('z%s {corpus}/cleandir\\0' % cmd)], profile='walk', compare='unordered')
    if cmd != 'SCAN':
        case('walk_%s_mixed' % cmd.lower(), ['CLAMD-SCAN-11'], [send('z%s {corpus}/mixed\\0' % cmd)], profile='walk', compare='unordered')
case('walk_scan_excluded_file', ['CLAMD-SCAN-11'], [send('zSCAN {corpus}/cleandir/two.txt\\0')], profile='walk')

# --- clamd's Max* limits (hardening item 3; spec section 19 "Limits") ---
LIMIT_FILES = ['marker_then_3m.bin', '3m_then_marker.bin', 'exact_1m_marker.bin', 'over_1m_marker.bin',
               'zip_2m_then_marker.zip', 'zip_marker_before_1m.zip', 'zip_marker_after_1m.zip',
               'zip_600k_600k_marker.zip', 'zip_nested_budget_then_marker.zip', 'zip_near_1m_then_marker.zip',
               'gz_marker_then_2m.gz', 'zip_level1.zip', 'zip_level2.zip', 'zip_level3.zip']
LIMIT_PROFILES = {
    'limits_file': ['MaxFileSize 1M', 'StreamMaxLength 10M'],
    'limits_file_alert': ['MaxFileSize 1M', 'StreamMaxLength 10M', 'AlertExceedsMax yes'],
    'limits_scan': ['MaxScanSize 1M', 'StreamMaxLength 10M'],
    'limits_scan_alert': ['MaxScanSize 1M', 'StreamMaxLength 10M', 'AlertExceedsMax yes'],
    'limits_mixed': ['MaxFileSize 1M', 'MaxScanSize 1500K', 'StreamMaxLength 10M'],
    'limits_zero': ['MaxFileSize 0', 'MaxScanSize 0', 'StreamMaxLength 0'],
    'limits_recursion': ['MaxRecursion 2', 'AlertExceedsMax yes'],
    'limits_recursion1': ['MaxRecursion 1', 'AlertExceedsMax yes'],
}
LIMIT_STREAMED = ['marker_then_3m.bin', 'over_1m_marker.bin', 'zip_2m_then_marker.zip', 'zip_600k_600k_marker.zip',
                  'gz_marker_then_2m.gz', 'zip_level2.zip']
for prof in LIMIT_PROFILES:
    for f in LIMIT_FILES:
        stem = f.rsplit('.', 1)[0]
        case('%s_scan_%s' % (prof, stem), ['CLAMD-CONF-3'], [send('zSCAN {corpus}/limits/%s\\0' % f)], profile=prof)
        if f in LIMIT_STREAMED:
            case('%s_instream_%s' % (prof, stem), ['CLAMD-CONF-3', 'CLAMD-INSTREAM-9'],
                 [send('zINSTREAM\\0'), "{ stream_file = { path = '{corpus}/limits/%s', chunk = 65536 } }" % f, send(TERM)],
                 profile=prof)
# a file that claims 0 bytes and reads forever (hardening item 2): clamd reads by its stat size
for cmd in ['SCAN', 'CONTSCAN', 'ALLMATCHSCAN']:
    case('proc_pagemap_%s' % cmd.lower(), ['CLAMD-SCAN-1'], [send('z%s /proc/self/pagemap\\0' % cmd)])
case('fildes_unix_proc_pagemap', ['CLAMD-FILDES-2'], ["{ send_fd = { bytes = 'zFILDES\\0X', path = '/proc/self/pagemap' } }"], transport='unix')
case('limits_zero_scan_eicar', ['CLAMD-CONF-3'], [send('zSCAN {corpus}/eicar.com\\0')], profile='limits_zero')
case('limits_zero_instream_eicar', ['CLAMD-CONF-3'], [send('zINSTREAM\\0' + EICAR_CHUNK + TERM)], profile='limits_zero')

profiles = {
    'main': ([], False),
    'timeouts': (['CommandReadTimeout 1', 'ReadTimeout 2'], False),
    'shutdown': ([], True),
    # one clamd per case: clamd writes the reply of a scan that outlived its closed session to
    # whichever connection reuses the descriptor (MISMATCHES.md), i.e. to another case's
    'isolated': ([], True),
    'reload': ([], True),
    'threads1': (['MaxThreads 1'], False),
    'noallmatch': (['AllowAllMatchScan no'], False),
    'follow': (['FollowFileSymlinks yes', 'FollowDirectorySymlinks yes'], False),
    'walk': (['MaxDirectoryRecursion 1', 'ExcludePath two\\.txt$'], False),
}
for name, conf in LIMIT_PROFILES.items():
    profiles[name] = (conf, False)

out = ['# clamd oracle case table. GENERATED by gen_cases.py -- edit that, not this file.',
       '# Base config (all profiles): TCPSocket <free port>, TCPAddr 127.0.0.1, LocalSocket, Foreground yes,',
       '# DatabaseDirectory (eicar.hdb + markers.ndb), TemporaryDirectory, User clamav (when root),',
       '# StreamMaxLength 1M, CommandReadTimeout 10, ReadTimeout 10; then the profile lines.', '']
for name, (conf, fresh) in profiles.items():
    out.append('[profiles.%s]' % name)
    out.append('conf = [%s]' % ', '.join("'%s'" % c for c in conf))
    if fresh: out.append('fresh_per_case = true')
    out.append('')
names = set()
for c in cases:
    assert c['name'] not in names, c['name']
    names.add(c['name'])
    out.append('[[case]]')
    out.append("name = '%s'" % c['name'])
    out.append('rules = [%s]' % ', '.join("'%s'" % r for r in c['rules']))
    if c['profile'] != 'main': out.append("profile = '%s'" % c['profile'])
    if c['transport']: out.append("transport = '%s'" % c['transport'])
    if c['compare']: out.append("compare = '%s'" % c['compare'])
    if c['wait_ms']: out.append('wait_ms = %d' % c['wait_ms'])
    if c['probe_alive']: out.append('probe_alive = true')
    if c['end_racy']: out.append('end_racy = true')
    if c['note']: out.append("note = '%s'" % c['note'])
    out.append('steps = [')
    for s in c['steps']:
        out.append('  %s,' % s)
    out.append(']')
    out.append('')
print('\n'.join(out))
