"""The grader's messages in English and Bahasa Indonesia, side by side."""

import re

# C0 controls but tab, newline and carriage return; DEL; C1 controls: not
# allowed as HTML text, and a terminal obeys them (ESC sequences)
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible(text, terminal=False):
    """text with each control character written as \\xNN, visibly; for a
    terminal also carriage returns (they overwrite what the line said)."""
    text = _CONTROLS.sub(lambda m: "\\x%02x" % ord(m.group(0)), text)
    return text.replace("\r", "\\x0d") if terminal else text


T = {
    # checks: evidence and what is missing
    "session_ev": ("{proto} session (stream {stream}): client {client} → server {server}, frames {first}–{last}",
                   "Sesi {proto} (stream {stream}): klien {client} → server {server}, frame {first}–{last}"),
    "no_session": ("no {proto} session in the capture", "tidak ada sesi {proto} di capture"),
    "few_sessions": ("{n} {proto} session(s), {min} needed", "{n} sesi {proto}, dibutuhkan {min}"),
    "phase_ev": ("phase {phase} starts at frame {frame} (stream {stream})",
                 "fase {phase} dimulai di frame {frame} (stream {stream})"),
    "phase_missing": ("phase {phase} never reached; phases seen: {seen}",
                      "fase {phase} tidak pernah tercapai; fase yang terlihat: {seen}"),
    "login_ev_digest": ("login attempt {n} (stream {stream}): {mech}, user {user}, digest {pw}, {result} (frames {start}–{end})",
                        "percobaan login {n} (stream {stream}): {mech}, pengguna {user}, digest {pw}, {result} (frame {start}–{end})"),
    "login_ev": ("login attempt {n} (stream {stream}): {mech}, user {user}, secret {pw}, {result} (frames {start}–{end})",
                 "percobaan login {n} (stream {stream}): {mech}, pengguna {user}, rahasia {pw}, {result} (frame {start}–{end})"),
    "success": ("success", "berhasil"), "failure": ("failure", "gagal"), "noreply": ("no reply", "tanpa balasan"),
    "fail_credentials": ("wrong user name or password", "nama pengguna atau kata sandi salah"),
    "fail_authorization": ("password right, session refused", "kata sandi benar, sesi ditolak"),
    "fail_refused": ("refused without checking the password", "ditolak tanpa memeriksa kata sandi"),
    "fail_cancelled": ("cancelled by the client", "dibatalkan oleh klien"),
    "login_no_success": ("no successful login", "tidak ada login yang berhasil"),
    "login_no_failure": ("no login refused for a wrong user name or password",
                         "tidak ada login yang ditolak karena nama pengguna atau kata sandi salah"),
    "login_no_order": ("no failed login followed by a successful one",
                       "tidak ada login gagal yang kemudian diikuti login berhasil"),
    "login_none": ("no login attempt", "tidak ada percobaan login"),
    "clear_ev": ("{mech} secret of user {user} crossed in clear at frame {frame}",
                 "rahasia {mech} milik pengguna {user} terkirim tanpa enkripsi di frame {frame}"),
    "clear_missing": ("no password or token crossed in clear",
                      "tidak ada kata sandi atau token yang terkirim tanpa enkripsi"),
    "secure_ev": ("{proto} session (stream {stream}) used TLS ({mode}) and no secret crossed in clear",
                  "sesi {proto} (stream {stream}) memakai TLS ({mode}) dan tidak ada rahasia yang terkirim tanpa enkripsi"),
    "secure_clear": ("a secret crossed in clear at frame {frame}",
                     "ada rahasia yang terkirim tanpa enkripsi di frame {frame}"),
    "secure_no_tls": ("session stream {stream} did not use TLS", "sesi stream {stream} tidak memakai TLS"),
    "tls_ev": ("{proto} session (stream {stream}) uses TLS: {mode}{dec}",
               "sesi {proto} (stream {stream}) memakai TLS: {mode}{dec}"),
    "tls_dec": (", decrypted with the key log", ", didekripsi dengan key log"),
    "tls_missing": ("no session used TLS ({mode})", "tidak ada sesi yang memakai TLS ({mode})"),
    "tls_refused": ("the client asked for TLS but the server refused it ({proto} stream {stream}): check the lab "
                    "server's TLS setup",
                    "klien meminta TLS tetapi server menolaknya ({proto} stream {stream}): periksa pengaturan TLS "
                    "server lab"),
    "sent_ev": ("recipient {rcpt} accepted (stream {stream}); message data from frame {frame}",
                "penerima {rcpt} diterima (stream {stream}); isi pesan mulai frame {frame}"),
    "sent_missing": ("no recipient at {domain} was accepted", "tidak ada penerima di {domain} yang diterima server"),
    "sent_nodata": ("recipient {rcpt} accepted but no message data was sent (no DATA)",
                    "penerima {rcpt} diterima, tetapi isi pesan tidak dikirim (tidak ada DATA)"),
    "mailbox_ev": ("mailbox {name} selected (stream {stream}, frame {frame})",
                   "kotak surat {name} dipilih (stream {stream}, frame {frame})"),
    "mailbox_missing": ("no mailbox {name} selected", "tidak ada kotak surat {name} yang dipilih"),
    "filter_ev": ("display filter {filter} matches {n} packet(s)",
                  "filter tampilan {filter} cocok dengan {n} paket"),
    "filter_missing": ("display filter {filter} matches {n} packet(s), at least {min} needed",
                       "filter tampilan {filter} cocok dengan {n} paket, dibutuhkan paling sedikit {min}"),
    "warn_ev": ("expert item {name} at frame {frame}", "item expert {name} di frame {frame}"),
    "warn_missing": ("no expert item {name}", "tidak ada item expert {name}"),
    "warn_none_ev": ("no expert item {name} in {n} session(s)", "tidak ada item expert {name} di {n} sesi"),
    "ans_none": ("no answers.toml was submitted (next to the capture, a line such as {key} = ...)",
                 "tidak ada answers.toml yang dikumpulkan (di samping capture, sebuah baris seperti {key} = ...)"),
    "ans_toml_hint": (" — write each answer on its own line as key = value: text in double quotes "
                      "(username = \"alice\"), numbers without (auth_frame = 4)",
                      " — tulis setiap jawaban di barisnya sendiri sebagai kunci = nilai: teks di antara tanda kutip "
                      "(username = \"alice\"), angka tanpa tanda kutip (auth_frame = 4)"),
    "ans_bad": ("answers.toml cannot be read: {err}", "answers.toml tidak dapat dibaca: {err}"),
    "ans_no_key": ("answers.toml has no answer {key}", "answers.toml tidak berisi jawaban {key}"),
    "ans_ok": ("answer {key} = {value} matches the capture", "jawaban {key} = {value} sesuai dengan capture"),
    "ans_wrong": ("answer {key} = {value} does not match the capture",
                  "jawaban {key} = {value} tidak sesuai dengan capture"),
    "ans_no_fact": ("the capture shows no {fact} to check {key} against",
                    "capture tidak memperlihatkan {fact} untuk memeriksa {key}"),
    "any": ("any", "apa pun"), "none": ("none", "tidak ada"),
    # statuses and reasons
    "st_graded": ("graded", "dinilai"), "st_truncated": ("truncated", "terpotong"),
    "st_no_mail": ("no mail", "tanpa email"), "st_encrypted": ("encrypted", "terenkripsi"),
    "st_not_a_capture": ("not a capture", "bukan capture"), "st_empty": ("empty", "kosong"),
    "st_too_large": ("too large", "terlalu besar"), "st_unreadable": ("unreadable", "tak terbaca"),
    "st_tshark_failed": ("tshark failed", "tshark gagal"), "st_timeout": ("timeout", "waktu habis"),
    "st_missing": ("missing", "tidak mengumpulkan"), "st_no_file": ("no file", "tanpa berkas"),
    "r_empty": ("the file is empty (0 bytes)", "berkas kosong (0 byte)"),
    "r_too_large": ("{size} bytes, over the limit of {limit} bytes (--max-size)",
                    "{size} byte, melebihi batas {limit} byte (--max-size)"),
    "r_not_capture": ("not a capture file (pcap or pcapng) that tshark can read{what}",
                      "bukan berkas capture (pcap atau pcapng) yang dapat dibaca tshark{what}"),
    "r_truncated": ("the capture is cut in the middle of a packet after {n} packet(s); graded on what was read",
                    "capture terpotong di tengah paket setelah {n} paket; dinilai dari bagian yang terbaca"),
    "r_truncated_no_mail": ("the capture is cut in the middle of a packet after {n} packet(s), before any POP3, SMTP or "
                            "IMAP traffic: submit the whole file again",
                            "capture terpotong di tengah paket setelah {n} paket, sebelum ada lalu lintas POP3, SMTP, "
                            "atau IMAP: kumpulkan lagi berkas yang utuh"),
    "enc_missing": ("cannot be checked: the session is encrypted (TLS) and no key log was given",
                    "tidak dapat diperiksa: sesi terenkripsi (TLS) dan tidak ada key log"),
    "r_no_mail": ("no POP3, SMTP or IMAP traffic in the capture", "tidak ada lalu lintas POP3, SMTP, atau IMAP di capture"),
    "r_encrypted": ("every mail session is encrypted (TLS) and no key log was given: nothing inside can be checked",
                    "semua sesi email terenkripsi (TLS) dan tidak ada key log: isinya tidak dapat diperiksa"),
    "r_timeout": ("tshark took longer than {s} s (--timeout)", "tshark berjalan lebih dari {s} detik (--timeout)"),
    "r_missing": ("in the roster, no submission", "ada di daftar mahasiswa, tidak mengumpulkan"),
    "r_no_file": ("the submission holds no file", "kiriman tidak berisi berkas apa pun"),
    "r_some_bad": ("{name}: {reason}", "{name}: {reason}"),
    # report headings
    "h_title": ("mailedu grades", "Nilai mailedu"), "h_overview": ("Class overview", "Ringkasan kelas"),
    "h_hist": ("Scores", "Sebaran nilai"), "h_pass": ("Pass rate per item", "Persentase lulus per item"),
    "h_table": ("Grades", "Nilai"), "h_students": ("Per student", "Per mahasiswa"),
    "h_ladder": ("Main session as a ladder diagram", "Sesi utama sebagai diagram tangga"),
    "h_copies": ("Possible copies", "Kemungkinan salinan"), "h_no_copies": ("No copies found.", "Tidak ada salinan."),
    "c_student": ("Student", "Mahasiswa"), "c_id": ("ID", "NIM"), "c_file": ("File", "Berkas"),
    "c_score": ("Score", "Nilai"), "c_max": ("Max", "Maks"), "c_status": ("Status", "Status"),
    "c_reason": ("Reason", "Keterangan"), "c_item": ("Item", "Item"), "c_points": ("Points", "Poin"),
    "c_evidence": ("Evidence", "Bukti"), "c_missing": ("Missing", "Yang kurang"),
    "c_pair": ("Submissions", "Kiriman"), "c_why": ("Evidence", "Bukti"),
    "pass": ("pass", "lulus"), "fail": ("fail", "belum"),
    "k_submissions": ("{n} submissions, {g} graded, mean {mean} of {max}",
                      "{n} kiriman, {g} dinilai, rata-rata {mean} dari {max}"),
    "copy_identical": ("identical files ({sha})", "berkas identik ({sha})"),
    "copy_segments": ("{n} TCP segments in common (same ports, sequence numbers and timestamps), e.g. {eg}",
                      "{n} segmen TCP sama (port, nomor urut, dan waktu sama), mis. {eg}"),
    "copy_shifted": ("{n} TCP segments in common (same ports and sequence numbers, every timestamp moved by "
                     "{shift} s), e.g. {eg}",
                     "{n} segmen TCP sama (port dan nomor urut sama, semua waktu digeser {shift} detik), mis. {eg}"),
    "copy_segment": ("{src}:{sport} → {dst}:{dport} seq {seq}, {n} bytes at {when}",
                     "{src}:{sport} → {dst}:{dport} nomor urut {seq}, {n} byte pada {when}"),
    "check_done": ("done", "selesai"), "check_todo": ("missing", "belum"),
    "check_total": ("Score: {score} of {max}", "Nilai: {score} dari {max}"),
}


def tr(lang, msg, **kw):
    """Message `msg` in lang ('en' or 'id') with {placeholders} filled."""
    en, idn = T[msg]
    return (idn if lang == "id" else en).format(**kw)
