"""The Bot API transport: python-telegram-bot's networking on aiohttp instead of httpx.

PTB sends every Bot API call through a `BaseRequest`; its default, `HTTPXRequest`, costs this bot
most of its CPU. Measured on the benchmark machine (tests/bench, 2 cores, one sendMessage with a
three-button keyboard, through `Bot.send_message` against the local fake): httpx 1.2-1.7 ms of CPU
per call one at a time and 1.7-2.7 ms with 16 in flight (httpcore polls every pooled connection on
each request); aiohttp 0.5-0.8 ms, and less, not more, when calls overlap. aiohttp is already
installed for discord.py.

`AiohttpRequest` plugs in through PTB's documented extension point (`ApplicationBuilder().request()`)
and sends the same requests as PTB's own class: form-encoded parameters (every non-string value as
JSON), multipart when a file is attached. Status codes and Telegram's error bodies are still turned
into BadRequest / Forbidden / RetryAfter... by PTB itself (`BaseRequest.post`); this class only maps
transport failures: timeouts to `TimedOut`, everything else to `NetworkError`.
"""
from __future__ import annotations

from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


FORM_URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a bounded connection pool; timeouts as in PTB's HTTPXRequest.

    Timeouts (seconds, None = wait forever): `connect_timeout` to open a connection, `pool_timeout`
    to wait for a free one, `read_timeout` between bytes of the answer (PTB adds the long-poll time
    for getUpdates), `write_timeout` (`media_write_timeout` when a file is attached) for sending. aiohttp
    has no per-write timeout, so the whole call is capped at the sum of the four.
    Proxies come from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), read when the transport
    starts, as httpx does. (aiohttp's own trust_env reads them, and ~/.netrc, again on every request:
    0.7 ms of CPU per call here, as much as the rest of the call.)
    """

    def __init__(self, connection_pool_size: int = 8, *, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._defaults = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout,
                          "pool": pool_timeout}
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._env_proxies: dict[str, str] = {}
        self._proxy_by_origin: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._defaults["read"]

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def initialize(self) -> None:
        if self.closed:
            # made here, not in __init__: an aiohttp session belongs to the running event loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size), headers={"User-Agent": self.USER_AGENT})
            self._env_proxies, self._proxy_by_origin = getproxies(), {}

    async def shutdown(self) -> None:
        if not self.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,  # noqa: ANN001
                         connect_timeout=BaseRequest.DEFAULT_NONE, pool_timeout=BaseRequest.DEFAULT_NONE,  # noqa: ANN001
                         ) -> tuple[int, bytes]:
        if self.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        given = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout, "pool": pool_timeout}
        seconds = {name: self._defaults[name] if value is BaseRequest.DEFAULT_NONE else value
                   for name, value in given.items()}
        if files and write_timeout is BaseRequest.DEFAULT_NONE:
            seconds["write"] = self._media_write_timeout
        try:
            body, headers = self._body(request_data, files)
            async with self._session.request(method, url, data=body, headers=headers,
                                             timeout=self._timeout(**seconds), proxy=self._proxy(url)) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's timeout errors are TimeoutErrors too
            raise TimedOut(f"Timed out ({type(error).__name__})") from error
        except (aiohttp.ClientError, OSError) as error:
            # aiohttp may quote the URL, and a Bot API URL holds the token
            message = str(error).replace(url, "<Bot API URL>").replace(urlsplit(url).path, "<path>")
            raise NetworkError(f"aiohttp.{type(error).__name__}: {message}") from error

    def _proxy(self, url: str) -> str | None:
        path_at = url.find("/", url.find("//") + 2)
        origin = url if path_at < 0 else url[:path_at]  # "https://api.telegram.org"
        if origin not in self._proxy_by_origin:
            parts = urlsplit(url)
            proxy = self._env_proxies.get(parts.scheme)
            self._proxy_by_origin[origin] = None if not proxy or proxy_bypass(parts.netloc) else proxy
        return self._proxy_by_origin[origin]

    @staticmethod
    def _body(request_data: RequestData | None, files: dict | None
              ) -> tuple[bytes | aiohttp.FormData | None, dict[str, str] | None]:
        if request_data is None:
            return None, None
        if not files:
            # encoded here, as httpx does: given a dict, aiohttp builds a multipart writer (and a
            # uuid4 boundary) for every call before it finds there is no file
            return request_data.url_encoded_parameters().encode(), FORM_URLENCODED
        form = aiohttp.FormData()
        for name, value in request_data.json_parameters.items():
            form.add_field(name, value)
        for name, (filename, content, mimetype) in files.items():
            form.add_field(name, content, filename=filename, content_type=mimetype)
        return form, None

    @staticmethod
    def _timeout(read: float | None, write: float | None, connect: float | None, pool: float | None
                 ) -> aiohttp.ClientTimeout:
        parts = (read, write, connect, pool)
        return aiohttp.ClientTimeout(
            total=None if None in parts else sum(parts),
            connect=None if pool is None or connect is None else pool + connect,  # wait for + open one
            sock_connect=connect, sock_read=read)
