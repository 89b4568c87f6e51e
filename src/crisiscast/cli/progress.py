"""Live per-channel progress while a dispatch runs, and the final report.

On a terminal a rich live table shows, per channel, how many deliveries are planned,
delivered, failed and in progress, redrawn a few times a second. When the output is not a
terminal (a script, a log collector), plain lines are printed instead: one when a channel
starts, and one each time a channel's delivered or failed count passes another tenth of its
plan or the channel finishes — never a line per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from crisiscast.jsontypes import JsonObject

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from crisiscast.delivery import DispatchReport

__all__ = ["ChannelCounts", "LiveProgress", "print_report"]


@dataclass(slots=True)
class ChannelCounts:
    """Where one channel stands during a dispatch."""

    planned: int = 0
    delivered: int = 0
    failed: int = 0
    retries: int = 0
    skipped: int = 0

    @property
    def done(self) -> int:
        return self.delivered + self.failed + self.skipped

    @property
    def in_progress(self) -> int:
        """Planned and not settled yet (waiting, being sent or being retried)."""
        return max(0, self.planned - self.done)

    @property
    def finished(self) -> bool:
        return self.planned > 0 and self.done >= self.planned


class LiveProgress:
    """A context manager showing per-channel counts; feed it with ``update``."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self.console = console
        self.live_mode = console.is_terminal if live is None else live
        self.counts: dict[str, ChannelCounts] = {}
        self._live: Live | None = None
        self._printed_tenths: dict[str, int] = {}

    def __enter__(self) -> LiveProgress:
        if self.live_mode:
            from rich.live import Live

            self._live = Live(self._table(), console=self.console, refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def planned(self, channel: str, count: int) -> None:
        """A channel's deliveries are planned."""
        self.counts.setdefault(channel, ChannelCounts()).planned = count
        self._changed(channel, started=True)

    def update(self, channel: str, **changes: int) -> None:
        """Add to a channel's counters: ``update("sms", delivered=1)``."""
        counts = self.counts.setdefault(channel, ChannelCounts())
        for name, delta in changes.items():
            setattr(counts, name, max(0, getattr(counts, name) + delta))
        self._changed(channel)

    def set(self, channel: str, **values: int) -> None:
        """Set a channel's counters to absolute values."""
        counts = self.counts.setdefault(channel, ChannelCounts())
        for name, value in values.items():
            setattr(counts, name, value)
        self._changed(channel)

    # -- rendering ----------------------------------------------------------------------------
    def _changed(self, channel: str, *, started: bool = False) -> None:
        if self._live is not None:
            self._live.update(self._table())
            return
        counts = self.counts[channel]
        if started:
            self.console.print(f"{channel}: sending {counts.planned}", markup=False, highlight=False)
            self._printed_tenths[channel] = 0
            return
        tenth = (10 * counts.done // counts.planned) if counts.planned else 0
        if tenth > self._printed_tenths.get(channel, 0) or (counts.finished and tenth == 10):
            if self._printed_tenths.get(channel) == 10:
                return
            self._printed_tenths[channel] = tenth
            self.console.print(
                f"{channel}: {counts.delivered}/{counts.planned} delivered, {counts.failed} failed"
                + (", finished" if counts.finished else ""),
                markup=False,
                highlight=False,
            )

    def _table(self) -> Table:
        from rich.table import Table

        table = Table(title="Sending", title_justify="left", expand=False)
        for column in ("channel", "planned", "delivered", "failed", "in progress", "retries"):
            table.add_column(column, justify="left" if column == "channel" else "right")
        for name, c in self.counts.items():
            state = "green" if c.finished and not c.failed else ("red" if c.failed else "")
            table.add_row(
                name,
                str(c.planned),
                str(c.delivered),
                str(c.failed),
                str(c.in_progress),
                str(c.retries),
                style=state,
            )
        return table


def print_report(
    console: Console, report: DispatchReport, *, skipped: dict[str, str] | None = None, config_hint: str = ""
) -> None:
    """The final per-channel report: counts, time, and every failure with its reason."""
    from rich.table import Table

    table = Table(title=f"Dispatch {report.dispatch_id}", title_justify="left")
    for column in ("channel", "result", "delivered", "failed", "attempts", "time", "note"):
        table.add_column(column)
    skipped = dict(skipped or {})
    for name, r in report.channels.items():
        result = "OK" if r.ok else ("FAILED" if r.failed else "INCOMPLETE")
        style = "green" if r.ok else "red"
        if r.planned == 0 and name in skipped:
            result, style = "SKIPPED", "yellow"
        table.add_row(
            name,
            f"[{style}]{result}[/]",
            f"{r.delivered}/{r.planned}",
            str(len(r.failed)),
            str(r.attempts),
            f"{r.duration_s:.2f} s",
            r.note,
        )
    for name, reason in skipped.items():
        if name not in report.channels:
            table.add_row(name, "[yellow]SKIPPED[/]", "-", "-", "-", "-", reason)
    console.print(table)
    for name, r in report.channels.items():
        for failure in r.failed[:20]:
            code = f" [{failure.code}]" if failure.code else ""
            console.print(f"  {name} → {failure.target}{code}: {failure.reason}", markup=False, style="red")
        if len(r.failed) > 20:
            console.print(
                f"  {name}: {len(r.failed) - 20} more failures (see crisiscast audit show)", style="red"
            )
    from crisiscast.cli.forecast_view import print_forecast

    print_forecast(console, report.forecast_vs_actual)
    verdict = "Everything was delivered." if report.ok else "Some deliveries FAILED (see above)."
    console.print(verdict, style="bold green" if report.ok else "bold red")
    console.print(
        f"Took {report.duration_s:.2f} s. "
        f"Full record: crisiscast {config_hint}audit show {report.dispatch_id}",
        markup=False,
        highlight=False,
    )


def report_json(report: DispatchReport, skipped: dict[str, str]) -> JsonObject:
    """The report as JSON, with the channels left out and why."""
    data = report.to_json()
    data["skipped_channels"] = dict(skipped)
    data["forecast_vs_actual"] = list(report.forecast_vs_actual)
    return data
