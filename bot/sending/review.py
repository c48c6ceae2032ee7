"""From a filled-in form to a review a person confirms: instant checks, then the slow ones.

Instant checks (message, sender ID, GIF link, "some numbers given") answer on the form itself.
The slow ones (files, image, suppression, balance) run on a worker and end either in a
``Review`` (what exactly would be sent, to whom, at what cost) or in ``Problems`` per field.
Plain data only: no Slack and no HTTP types here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.sending.budget import UNLIMITED, Budget, OutOfTime
from bot.sending.contact_files import ContactsFileError, FileLimits, FileSource, parse_contacts_file
from bot.sending.contacts import ContactList, Rejected, parse_text
from bot.sending.fields import FieldError, normalise_message, validate_sender
from bot.sending.gateway import ACCOUNT_LEVEL, MAX_CONTACTS_PER_CALL, Gateway, GatewayError
from bot.sending.guardrails import Assessment
from bot.sending.media import Media, MediaError, prepare_media, validate_gif_url
from bot.sending.optouts import has_optout_instruction, with_footer
from bot.sending.personalise import MissingValue, Personalised, PlaceholderError, Template
from bot.sending.personalise import describe as describe_personal
from bot.sending.schedule import QuietHours, check_send_at, is_now, quiet_warning

# Form fields, named as the form's block ids.
FIELDS = ("sender", "message", "media", "gif", "contacts", "contacts_file", "send_at")
ACCOUNT = "gateway"  # not a form field: the Cellcast account itself (key refused, …)


@dataclass(frozen=True)
class FileRef:
    """An attached file as the chat platform describes it; downloaded by the checks, not before."""

    id: str
    name: str
    url: str | None = None


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


@dataclass(frozen=True)
class FormInput:
    user_id: str
    channel_id: str
    message: str | None = None
    sender: str | None = None
    gif_url: str | None = None
    contacts_text: str | None = None
    contacts_file: FileRef | None = None
    media: FileRef | None = None
    send_at: float | None = None  # the picked time (epoch seconds); None: now


@dataclass(frozen=True)
class CheckedForm:
    """The form after its instant checks: normalised values, files still to fetch."""

    user_id: str
    channel_id: str
    message: str
    sender: str | None
    gif_url: str | None
    contacts_text: str
    contacts_file: FileRef | None
    media: FileRef | None
    send_at: float | None = None  # a time to send at, at least a minute ahead; None: when confirmed


class Problems(ValueError):
    """Field → message for a person."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(problems)
        self.problems = problems


def instant_checks(
    form: FormInput, optout_footer: str = "", *, now: float | None = None, max_days: int = 30
) -> CheckedForm:
    """Checks that cost nothing; raise Problems to answer on the form's fields at once.

    The message comes back as it will be sent: with the opt-out footer unless it already says how.
    A picked time is checked against ``now`` (required when the form has one)."""
    problems: dict[str, str] = {}
    send_at = None
    if form.send_at is not None:
        assert now is not None, "a form with a time is checked against the clock"
        problem = check_send_at(form.send_at, now, max_days)
        if problem:
            problems["send_at"] = problem
        elif not is_now(form.send_at, now):
            send_at = float(form.send_at)
    message = sender = gif_url = None
    try:
        message = with_footer(normalise_message(form.message), optout_footer)
    except FieldError as exc:
        problems["message"] = str(exc)
    try:
        sender = validate_sender(form.sender)
    except FieldError as exc:
        problems["sender"] = str(exc)
    if form.gif_url and form.gif_url.strip():
        try:
            gif_url = validate_gif_url(form.gif_url)
        except MediaError as exc:
            problems["gif"] = str(exc)
    if not (form.contacts_text or "").strip() and form.contacts_file is None:
        problems["contacts"] = "Add at least one Australian mobile number, here or as a file."
    if problems:
        raise Problems(problems)
    return CheckedForm(
        form.user_id,
        form.channel_id,
        message,
        sender,
        gif_url,
        (form.contacts_text or "").strip(),
        form.contacts_file,
        form.media,
        send_at,
    )


@dataclass(frozen=True)
class Balance:
    """The account's MMS balance, or why it could not be read."""

    credits: float | None
    error: str = ""
    blocking: bool = False  # the account itself is refused (e.g. the API key): nothing could be sent


@dataclass
class Review:
    message: str
    sender: str | None
    gif_url: str | None
    media: Media | None
    numbers: list[str]
    typed: int  # valid numbers from the text box
    from_file: int  # valid numbers from the file that were not typed too
    file_source: FileSource | None
    rejected: list[Rejected]
    duplicates: int
    suppressed: list[tuple[str, str]]  # (number, why it is suppressed)
    balance: Balance
    credits_per_mms: float
    dry_run: bool = False
    optouts_note: str = ""  # how fresh the suppression list's copy of Cellcast's opt-outs is
    warnings: list[str] = field(default_factory=list)
    send_at: float | None = None  # scheduled for then; None: sent when confirmed
    texts: list[str] | None = None  # a personal message: each number's own text (``texts[i]`` for ``numbers[i]``)
    personalised: Personalised | None = None
    approval: str | None = None  # why it needs an approver's OK before it is sent
    left_today: int | None = None  # what the sender may still send today (a daily limit); None: no limit

    @property
    def credits_needed(self) -> float:
        return len(self.numbers) * self.credits_per_mms

    @property
    def left_out(self) -> int:
        return len(self.rejected) + self.duplicates + len(self.suppressed)


def read_balance(gateway: Gateway, dry_run: bool = False) -> Balance:
    if dry_run:
        return Balance(None, "not read in a dry run")
    try:
        return Balance(gateway.mms_balance())
    except ACCOUNT_LEVEL as exc:
        return Balance(None, exc.user_message, blocking=True)
    except GatewayError as exc:
        return Balance(None, exc.user_message)


SuppressionLookup = Callable[[Iterable[str]], dict[str, str]]  # numbers → {suppressed number: why}


def check(
    form: CheckedForm,
    uploads: dict[str, Upload],
    *,
    file_limits: FileLimits,
    suppressed: SuppressionLookup,
    balance: Callable[[], Balance],
    credits_per_mms: float,
    dry_run: bool = False,
    optouts: Callable[[], tuple[str, bool]] = lambda: ("", False),
    budget: Budget = UNLIMITED,
    quiet: QuietHours | None = None,
    clock: Callable[[], float] = lambda: 0.0,
    calls_per_second: float = 14.0,
    allowance: Callable[[str, int], Assessment] = lambda user, count: Assessment(),
) -> Review:
    """The slow checks. ``uploads`` holds the downloaded files by field; Problems if any field is at fault.
    Reading a file takes a turn at the budget's gate (memory) and stops at its time (a problem naming
    the file); Abandoned goes through to the caller."""
    problems: dict[str, str] = {}
    media = None
    if "media" in uploads:
        try:
            with budget.heavy():
                media = prepare_media(uploads["media"].filename, uploads["media"].content, budget)
        except MediaError as exc:
            problems["media"] = str(exc)
        except OutOfTime as exc:
            problems["media"] = too_slow(uploads["media"].filename, exc)
    template = Template(form.message)
    if template.personal and "contacts_file" not in uploads and form.contacts_file is None:
        problems["message"] = (
            f"The message has placeholders ({', '.join(str(p) for p in template.placeholders[:3])}), but the numbers "
            "are typed: placeholders are filled from the columns of a contacts file. Attach the file, or take them "
            "out of the message."
        )
    typed = parse_text(form.contacts_text) if form.contacts_text else ContactList()
    contacts, file_source, from_file = typed, None, 0
    if "contacts_file" in uploads:
        upload = uploads["contacts_file"]
        try:
            with budget.heavy():
                listed, file_source = parse_contacts_file(
                    upload.filename, upload.content, file_limits, budget, keep_rows=template.personal
                )
        except ContactsFileError as exc:
            problems["contacts_file"] = str(exc)
        except OutOfTime as exc:
            problems["contacts_file"] = too_slow(upload.filename, exc)
        else:
            contacts = typed.merge(listed)
            from_file = len(contacts.numbers) - len(typed.numbers)
            if not listed.numbers:
                problems["contacts_file"] = _nothing_valid(listed, f"in {upload.filename}")
    if not contacts.numbers and "contacts_file" not in problems and form.contacts_text:
        problems["contacts"] = _nothing_valid(typed, "here")
    if problems:
        raise Problems(problems)
    texts: dict[str, str] = {}
    if template.personal:
        contacts, texts = _personalise(template, contacts, file_source)
    optouts_note, optouts_stale = optouts()  # first: it may refresh the suppression list
    found = suppressed(contacts.numbers)
    numbers = [n for n in contacts.numbers if n not in found] if found else contacts.numbers
    reading = balance()
    if reading.blocking:
        raise Problems({ACCOUNT: reading.error})
    review = Review(
        message=form.message,
        sender=form.sender,
        gif_url=form.gif_url,
        media=media,
        numbers=numbers,
        typed=len(typed.numbers),
        from_file=from_file,
        file_source=file_source,
        rejected=contacts.rejected,
        duplicates=contacts.duplicates,
        suppressed=[(n, found[n]) for n in contacts.numbers if n in found],
        balance=reading,
        credits_per_mms=credits_per_mms,
        dry_run=dry_run,
        optouts_note=optouts_note,
        send_at=form.send_at,
    )
    assessment = allowance(form.user_id, len(numbers))
    if assessment.problem:
        raise Problems({"contacts": assessment.problem})
    review.approval, review.left_today = assessment.approval, assessment.left_today
    if texts:
        review.texts = [texts[n] for n in numbers]
        review.personalised = describe_personal(numbers, review.texts, MAX_CONTACTS_PER_CALL, calls_per_second)
    if optouts_stale:
        review.warnings.append(optouts_note)
    if not numbers:
        raise Problems(
            {
                "contacts": "Every number given is on the suppression list (they opted out), "
                "so there is no one to send to."
            }
        )
    review.warnings.extend(_warnings(review))
    quiet_time = quiet_warning(form.send_at or clock(), quiet, scheduled=form.send_at is not None)
    if quiet_time:
        review.warnings.append(quiet_time)
    return review


def _personalise(
    template: Template, contacts: ContactList, source: FileSource | None
) -> tuple[ContactList, dict[str, str]]:
    """Each number's text from its row; a number without a row, or with a blank cell for a plain
    placeholder, is left out saying why. Problems when a placeholder names no column."""
    assert source is not None  # checked before: a personal message comes with a file
    if not source.headers:
        raise Problems(
            {
                "contacts_file": f"{source.filename} has no header row, so the message's placeholders "
                f"({', '.join(str(p) for p in template.placeholders[:3])}) name no column. Add a first row naming "
                "the columns."
            }
        )
    try:
        columns = template.columns(source.headers, source.filename)
    except PlaceholderError as exc:
        raise Problems({"message": str(exc)}) from None
    kept = ContactList(rejected=list(contacts.rejected), duplicates=contacts.duplicates)
    texts: dict[str, str] = {}
    for number in contacts.numbers:
        row = contacts.rows.get(number)
        if row is None:
            kept.rejected.append(Rejected(number, f"typed in the form: no row of {source.filename} to fill it from"))
            continue
        try:
            texts[number] = template.render(row[1], columns)
        except MissingValue as exc:
            kept.rejected.append(Rejected(number, str(exc), f"row {row[0]}"))
            continue
        kept.numbers.append(number)
    if not kept.numbers:
        raise Problems(
            {
                "contacts_file": f"No row of {source.filename} can be sent: {kept.rejected[-1].reason}."
                if kept.rejected
                else f"No row of {source.filename} can be sent."
            }
        )
    return kept, texts


def too_slow(filename: str, exc: OutOfTime) -> str:
    return (
        f"Reading {filename} took longer than the {exc.seconds:g} seconds a check may take, so it was stopped. "
        "Attach a smaller file, or save a large workbook as CSV (CSV reads many times faster)."
    )


def _warnings(review: Review) -> list[str]:
    warnings = []
    if review.balance.credits is not None and review.balance.credits < review.credits_needed:
        warnings.append(
            f"The balance ({review.balance.credits:,g} MMS credits) is lower than this send needs "
            f"(about {review.credits_needed:,g}): Cellcast refuses what it cannot charge for, so part or all of "
            "this send would not go out. Recharge first."
        )
    elif review.balance.credits is None and not review.dry_run:
        warnings.append(
            f"The MMS balance could not be read ({review.balance.error}); the send may fail if it is too low."
        )
    if review.sender and not review.sender.isdigit():
        warnings.append(
            f"Replies cannot reach the sender ID “{review.sender}” (letters make it one-way), so recipients cannot "
            "reply STOP. "
            "Give another way to opt out in the message: a link, an email address or a phone number."
            if has_optout_instruction(review.message)
            else f"Replies cannot reach the sender ID “{review.sender}”, and the message says no way to opt out: "
            "add one (a link, an email address or a phone number)."
        )
    longest = review.personalised.longest if review.personalised else review.message
    length = len(longest.replace("\r\n", "\n"))
    if length > 1000:
        which = "The longest message" if review.personalised else "The message"
        warnings.append(
            f"{which} is {length:,} characters; Cellcast has allowed 1,000 for MMS. It may be cut or refused."
        )
    return warnings


def _nothing_valid(contacts: ContactList, where: str) -> str:
    if not contacts.rejected:
        return f"No Australian mobile number found {where}."
    first = contacts.rejected[0]
    more = len(contacts.rejected) - 1
    at = f" ({first.where})" if first.where else ""
    return f"No valid Australian mobile number found {where}. “{first.entry[:40]}”{at}: {first.reason}" + (
        f" (and {more:,} more refused)" if more else ""
    )
