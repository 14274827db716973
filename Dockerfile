# One image for the four services and the console; the command picks one: `python -m cutover_<name> serve`.
FROM python:3.11-slim AS build
# uv from the Python index the image's pip already uses: no registry named here.
RUN pip install --no-cache-dir "uv>=0.9,<0.10"
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
COPY pyproject.toml uv.lock ./
COPY contracts contracts
COPY libs libs
COPY services services
COPY cli cli
COPY console console
RUN uv sync --frozen --no-dev

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /app /app
ENV PATH="/app/.venv/bin:$PATH" CUTOVER_HTTP_HOST=0.0.0.0
USER nobody
CMD ["python", "-m", "cutover_accounts", "serve"]
