"""On-duty audiences: who is on duty or on call right now, from the contacts and a schedule.

- ``config``: the ``[roster]`` section (schedule source, shifts, audiences by attribute);
- ``shifts``: whether a named shift (``day``, ``night``) is on now, in the roster's time zone;
- ``schedule``: the on-call schedule read from an iCal or CSV text (who is on call for which role,
  from/to); ``source`` loads it from a file or URL (``fetch``: aiohttp with a timeout), cached;
- ``audiences``: a roster audience resolved to the contacts it reaches now, and the check that
  refuses a send to an audience that resolves to nobody.
"""
