"""A browser's POST upload to an S3 endpoint: the form's fields, then the file, as
multipart/form-data; shared by the S3 scenario scripts beside it."""
import urllib.error
import urllib.request

BOUNDARY = "conveyorformboundary"


def form_body(fields, filename, content):
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: text/plain\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post_form(url, fields, filename, content):
    """Posts the form; answers the HTTP status and body."""
    request = urllib.request.Request(url, data=form_body(fields, filename, content), method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
