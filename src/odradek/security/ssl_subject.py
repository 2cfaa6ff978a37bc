"""The TLS peer's subject name as Kafka's principal builder sees it (Java's RFC 2253 form)."""

from __future__ import annotations

import ssl

from cryptography import x509


def peer_certificate_subject(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """The verified peer certificate's subject in Java's ``X500Principal.getName()`` form,
    which Kafka maps to a principal; None without a verified peer certificate."""
    if ssl_object.context.verify_mode == ssl.CERT_NONE:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return rfc2253_name(x509.load_der_x509_certificate(der).subject)


# Java's RFC 2253 keywords; any other attribute is written as its OID with a hex value.
_RFC2253_KEYWORDS = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
# DER string types Java writes as text: Printable, T61, IA5, General, BMP and UTF8 strings.
_TEXT_TAGS = frozenset({0x13, 0x14, 0x16, 0x1B, 0x1E, 0x0C})
_ESCAPED = frozenset(',=+<>#;"\\')


def rfc2253_name(name: x509.Name) -> str:
    """``name`` as Java's ``X500Principal.getName()`` writes it (RFC 2253): the last RDN
    first, multi-valued RDNs joined by ``+`` in encoded order, Java's escapes, and attributes
    without an RFC 2253 keyword as ``OID=#<hex of the DER value>``."""
    return ",".join(
        "+".join(_rfc2253_attribute(attribute) for attribute in rdn) for rdn in reversed(name.rdns)
    )


def _rfc2253_attribute(attribute: x509.NameAttribute[str | bytes]) -> str:
    oid = attribute.oid.dotted_string
    value = _der_value(attribute)
    keyword = _RFC2253_KEYWORDS.get(oid)
    if keyword is None or value[0] not in _TEXT_TAGS:
        return f"{keyword or oid}=#{value.hex()}"
    # Java reads the content bytes as UTF-8 whatever the string type.
    text = value[_der_header_length(value, 0) :].decode("utf-8", errors="replace")
    chars = ["\\00" if c == "\0" else f"\\{c}" if c in _ESCAPED else c for c in text]
    lead = next((i for i, c in enumerate(chars) if c not in " \r"), len(chars))
    trail = next((i for i in range(len(chars) - 1, -1, -1) if chars[i] not in " \r"), -1)
    escaped = (f"\\{c}" if i < lead or i > trail else c for i, c in enumerate(chars))
    return f"{keyword}={''.join(escaped)}"


def _der_value(attribute: x509.NameAttribute[str | bytes]) -> bytes:
    """The DER encoding (tag, length, content) of an attribute's value."""
    # SEQUENCE { SET { SEQUENCE { OID, value } } }: step into three headers, skip the OID.
    der = x509.Name([x509.RelativeDistinguishedName([attribute])]).public_bytes()
    pos = 0
    for _ in range(3):
        pos += _der_header_length(der, pos)
    oid_header = _der_header_length(der, pos)
    pos += oid_header + _der_content_length(der, pos)
    return der[pos:]


def _der_header_length(der: bytes, pos: int) -> int:
    """The length of the tag and length octets of the DER element at ``pos``."""
    first = der[pos + 1]
    return 2 if first < 0x80 else 2 + (first & 0x7F)


def _der_content_length(der: bytes, pos: int) -> int:
    first = der[pos + 1]
    if first < 0x80:
        return first
    return int.from_bytes(der[pos + 2 : pos + 2 + (first & 0x7F)], "big")
