"""A real SMTP server for the email handler's tests (aiosmtpd), on 127.0.0.1.

    python3 smtp_server.py OUT_DIR USER PASSWORD

Requires AUTH (plain text allowed: the test talks over loopback), refuses recipients at
bounce.example permanently (550) and at busy.example for now (451), stalls the first delivery to
each address at slow.example (writing OUT_DIR/stalled-<address> first, so a test can kill the
sender mid-way), and writes one JSON file per
accepted message to OUT_DIR: the envelope, who logged in, and the parsed MIME structure. Prints
the port it listens on, then serves until stdin closes or 300 seconds pass.
"""

import asyncio
import email
import email.policy
import json
import os
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller
import warnings

from aiosmtpd.smtp import AuthResult

# Plain-text AUTH is the point here: the test talks over loopback.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


class Recorder:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.stalled = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@bounce.example"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if address.endswith("@busy.example"):
            return "451 4.3.0 try again later"
        if address.endswith("@slow.example") and address not in self.stalled:
            self.stalled.add(address)
            open(os.path.join(self.out, "stalled-" + address), "w").close()
            await asyncio.sleep(120)
            return "451 4.3.0 stalled"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = [
            {"type": part.get_content_type(), "text": part.get_content()}
            for part in message.walk()
            if not part.is_multipart()
        ]
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "login": session.auth_data.login.decode() if session.auth_data else None,
            "from": str(message["from"]),
            "to": str(message["to"]),
            "subject": str(message["subject"]),
            "content_type": message.get_content_type(),
            "conveyor_message_id": message["x-conveyor-message-id"],
            "parts": parts,
        }
        self.count += 1
        path = os.path.join(self.out, "%06d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(summary, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 accepted"


def main():
    out, user, password = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(
        Recorder(out),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    print(port, flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait(timeout=300)
    controller.stop()


if __name__ == "__main__":
    main()
