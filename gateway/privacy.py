"""Redaction of free text the service writes (dead-letter excerpts, log lines).

Hashing and masking, which adapters apply before an event exists, are in `schemas.privacy`.
"""

import re

from schemas.privacy import mask_id_number, mask_phone

# 18-digit resident ID numbers (GB 11643) and 15-digit legacy ones, 11-digit mainland mobiles.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
# Values of JSON keys that name people or their credentials, matched on text so it also works
# on payloads that are not valid JSON.
# Keys that hold a person's name or phone (bare, or prefixed by who the person is: `userName`,
# `visitorPhone`), and any key ending like an identity number (`idCardNo`, `certificateNo`).
# A device's, space's or event's name is not personal and stays readable.
_PERSON = (
    r"(?:user|person|visitor|owner|resident|contact|real|full|customer|driver|guest|host|tenant)"
)
_SENSITIVE_KEYS = (
    rf"(?:{_PERSON}_?)?(?:name|phone|phonenumber|mobile|tel|telephone)"
    r"|\w*(?:cardno|cardnumber|idnumber|idno|idcard|idcardno|certificateno|employeeno"
    r"|employeenostring)"
    r"|data|featuredata|imagedata|picdata|facedata"  # inline images and face features
)
_SENSITIVE_VALUE = re.compile(
    rf'("(?:{_SENSITIVE_KEYS})"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|\\?\Z)|-?\d+)', re.IGNORECASE
)
_INLINE_IMAGE = re.compile(r"data:[\w/+.-]*;base64,[A-Za-z0-9+/=]*|[A-Za-z0-9+/=]{200,}")
"""A `data:` URI (any length) or a long base64 run: an inline picture or face feature."""


def redact_text(text: str) -> str:
    """Remove personal data from free text (a dead-lettered payload, a log line).

    Values under sensitive JSON keys become `"***"`, ID-number-like and phone-like digit runs
    are masked, and long base64 runs (inline face images) are cut out.
    """
    text = _SENSITIVE_VALUE.sub(r'\1"***"', text)
    text = _INLINE_IMAGE.sub("<image removed>", text)
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)
