// OpenAI-compatible HTTP server for a small GGUF model, for ocx's tests,
// benchmarks and demo. It runs llama.cpp through node-llama-cpp on ONE
// thread (more threads on a 2-core machine make a token 100x slower).
//
//   node server.mjs --model <gguf> [--host 127.0.0.1] [--port 0]
//       [--served-model-name NAME] [--request-log FILE]
//       [--fail-first N --fail-status CODE] [--die-after N]
//       [--api-key KEY] [--malformed] [--no-logprobs]
//       [--llama-server-logprobs] [--context-size N]
//
// Prints "listening http://127.0.0.1:<port>/v1" on stdout when ready.
//
// Endpoints:
//   GET  /v1/models
//   POST /v1/completions       prompt (string or array of strings),
//                              max_tokens (16), temperature (1), top_p, seed,
//                              stop, echo, logprobs (legacy shape)
//   GET  /ocx/stats            {requests, prompt_tokens, completion_tokens}
//                              served so far (bench/ measures tokens/s
//                              of different clients with it)
//   POST /v1/chat/completions  messages, max_tokens (256), temperature,
//                              top_p, seed, stop, logprobs + top_logprobs
//                              (choices[].logprobs.content[] shape)
// Every response carries `usage` {prompt_tokens, completion_tokens,
// total_tokens}. The model is a base model, so the chat "template" is plain
// text: the message contents in order, each followed by "\n", with no role
// markers; the reply continues that text.
//
// Requests are queued and run one at a time on the model; the HTTP side
// accepts any number of keep-alive connections.
//
// Fault flags (for tests of the client's error handling):
//   --fail-first N --fail-status CODE  the first N POSTs get CODE with an
//                                      OpenAI error JSON and Retry-After: 0
//   --die-after N     the process dies (SIGKILL) when the (N+1)-th
//                     completion POST arrives, before answering it
//   --api-key KEY     401 unless "Authorization: Bearer KEY"
//   --malformed       POSTs get 200 with a truncated JSON body
//   --no-logprobs     /v1/completions ignores echo and logprobs
//   --llama-server-logprobs  /v1/completions behaves as llama.cpp's
//                     llama-server: it ignores echo, generates at least one
//                     token (max_tokens 0 too) and returns log-probabilities
//                     for the generated tokens only, in the
//                     logprobs.content[] shape
//   --request-log F   one JSON line per POST, appended synchronously:
//                     {"endpoint","prompt"|"messages","status"}
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function usage(msg) {
  process.stderr.write(`server.mjs: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    model: null,
    host: "127.0.0.1",
    port: 0,
    servedModelName: null,
    requestLog: null,
    failFirst: 0,
    failStatus: 503,
    dieAfter: -1,
    apiKey: null,
    malformed: false,
    noLogprobs: false,
    llamaServerLogprobs: false,
    contextSize: 2048,
  };
  const intArg = (name, v) => {
    if (v === undefined || !/^-?\d+$/.test(v)) usage(`${name} needs an integer, got ${v}`);
    return Number.parseInt(v, 10);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--model": opts.model = next(); break;
      case "--host": opts.host = next(); break;
      case "--port": opts.port = intArg(a, next()); break;
      case "--served-model-name": opts.servedModelName = next(); break;
      case "--request-log": opts.requestLog = next(); break;
      case "--fail-first": opts.failFirst = intArg(a, next()); break;
      case "--fail-status": opts.failStatus = intArg(a, next()); break;
      case "--die-after": opts.dieAfter = intArg(a, next()); break;
      case "--api-key": opts.apiKey = next(); break;
      case "--malformed": opts.malformed = true; break;
      case "--no-logprobs": opts.noLogprobs = true; break;
      case "--llama-server-logprobs": opts.llamaServerLogprobs = true; break;
      case "--context-size": opts.contextSize = intArg(a, next()); break;
      case "-h":
      case "--help":
        process.stdout.write(fs.readFileSync(new URL(import.meta.url), "utf8")
          .split("\n").filter((l) => l.startsWith("//")).join("\n") + "\n");
        process.exit(0);
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!opts.model) usage("--model <gguf> is required");
  if (!fs.existsSync(opts.model)) usage(`model file ${opts.model} does not exist`);
  if (!opts.servedModelName) opts.servedModelName = path.basename(opts.model).replace(/\.gguf$/, "");
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: opts.model});
const context = await model.createContext({threads: 1, contextSize: opts.contextSize, sequences: 1});
const sequence = context.getSequence();
const bos = model.tokens.bos;
const eos = model.tokens.eos;

// The model is used by one request at a time: a promise chain.
let modelQueue = Promise.resolve();
function withModel(fn) {
  const run = modelQueue.then(fn, fn);
  modelQueue = run.catch(() => {});
  return run;
}

class HttpError extends Error {
  constructor(status, message, type = "invalid_request_error") {
    super(message);
    this.status = status;
    this.type = type;
  }
}

// Texts of each token as it appears in the full detokenized string (with its
// leading space), so that the pieces concatenate to the text.
function tokenPieces(tokens) {
  const pieces = [];
  let prev = "";
  for (let i = 0; i < tokens.length; i++) {
    const cur = model.detokenize(tokens.slice(0, i + 1));
    pieces.push(cur.startsWith(prev) ? cur.slice(prev.length) : model.detokenize([tokens[i]]));
    prev = cur;
  }
  return pieces;
}

const kRawSampling = {temperature: 1, topK: 0, topP: 1, minP: 0};

// Log-probabilities under the raw model (no temperature or truncation):
// result[i] = {logprob of tokens[i] given BOS + tokens[0..i), probability map}.
async function scoreTokens(tokens) {
  await sequence.clearHistory();
  const input = [bos, ...tokens].map((t, i) =>
    i < tokens.length ? [t, {generateNext: {probabilities: true, options: kRawSampling}}] : t);
  const out = await sequence.controlledEvaluate(input);
  const result = [];
  for (let i = 0; i < tokens.length; i++) {
    const probs = out[i]?.next?.probabilities;
    if (!probs) throw new HttpError(500, "the model returned no probabilities", "server_error");
    const p = probs.get(tokens[i]) ?? 0;
    result.push({logprob: p > 0 ? Math.log(p) : -1e9, probs});
  }
  return result;
}

// The text `tok` adds after `prev` (the previous token, or none), with the
// leading space a SentencePiece token carries in the middle of a text.
function pieceAfter(prev, tok) {
  if (prev === null) return model.detokenize([tok]);
  const base = model.detokenize([prev]);
  const both = model.detokenize([prev, tok]);
  return both.startsWith(base) ? both.slice(base.length) : model.detokenize([tok]);
}

function topLogprobs(probs, n, prev) {
  const top = {};
  let k = 0;
  for (const [tok, p] of probs) {  // sorted by probability, highest first
    if (k >= n) break;
    const piece = pieceAfter(prev, tok);
    if (piece in top) continue;
    top[piece] = p > 0 ? Math.log(p) : -1e9;
    k++;
  }
  return top;
}

function normalizeStop(stop) {
  if (stop === undefined || stop === null) return [];
  if (typeof stop === "string") return stop ? [stop] : [];
  if (Array.isArray(stop) && stop.every((s) => typeof s === "string")) return stop.filter((s) => s);
  throw new HttpError(400, "stop: expected a string or an array of strings");
}

function numberField(body, name, def, min, max) {
  const v = body[name];
  if (v === undefined || v === null) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new HttpError(400, `${name}: expected a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

// Generates from `promptTokens`; returns {tokens, text, finishReason}.
async function generate(promptTokens, promptText, {maxTokens, temperature, topP, seed, stop}) {
  await sequence.clearHistory();
  const out = [];
  let text = "";
  let finishReason = "length";
  if (maxTokens > 0) {
    const sampling = temperature === 0 ? {temperature: 0}
      : {temperature, topP, topK: 0, minP: 0, seed: seed ?? Date.now() % 2147483647};
    const base = model.detokenize(promptTokens);
    for await (const tok of sequence.evaluate([bos, ...promptTokens], sampling)) {
      if (tok === eos) {
        finishReason = "stop";
        break;
      }
      out.push(tok);
      const full = model.detokenize([...promptTokens, ...out]);
      text = full.startsWith(base) ? full.slice(base.length) : model.detokenize(out);
      const hit = stop.map((s) => text.indexOf(s)).filter((i) => i >= 0);
      if (hit.length) {
        text = text.slice(0, Math.min(...hit));
        finishReason = "stop";
        break;
      }
      if (out.length >= maxTokens) break;
      if (promptTokens.length + 1 + out.length >= opts.contextSize) break;
    }
  }
  return {tokens: out, text, finishReason};
}

function checkModelName(body) {
  if (body.model !== undefined && body.model !== opts.servedModelName) {
    throw new HttpError(404, `The model \`${body.model}\` does not exist (this server serves \`${opts.servedModelName}\`).`,
      "NotFoundError");
  }
}

function tokenizePrompt(text) {
  const tokens = model.tokenize(text);
  if (tokens.length + 1 >= opts.contextSize) {
    throw new HttpError(400, `This model's maximum context length is ${opts.contextSize} tokens; the prompt has ${tokens.length}.`);
  }
  return tokens;
}

async function completions(body) {
  checkModelName(body);
  let prompts = body.prompt;
  if (typeof prompts === "string") prompts = [prompts];
  if (!Array.isArray(prompts) || prompts.length === 0 || !prompts.every((p) => typeof p === "string")) {
    throw new HttpError(400, "prompt: expected a string or a non-empty array of strings");
  }
  let maxTokens = numberField(body, "max_tokens", 16, 0, 1 << 20);
  if (opts.llamaServerLogprobs) maxTokens = Math.max(maxTokens, 1);
  const temperature = numberField(body, "temperature", 1, 0, 2);
  const topP = numberField(body, "top_p", 1, 0, 1);
  const seed = body.seed === undefined ? undefined : numberField(body, "seed", 0, 0, 2 ** 31);
  const stop = normalizeStop(body.stop);
  const echo = !opts.noLogprobs && !opts.llamaServerLogprobs && body.echo === true;
  const nLogprobs = opts.noLogprobs || body.logprobs === undefined || body.logprobs === null
    ? null : numberField(body, "logprobs", 0, 0, 20);
  const choices = [];
  let promptTokensTotal = 0;
  let completionTokensTotal = 0;
  for (let index = 0; index < prompts.length; index++) {
    const prompt = prompts[index];
    const promptTokens = tokenizePrompt(prompt);
    const gen = await generate(promptTokens, prompt, {maxTokens, temperature, topP, seed, stop});
    promptTokensTotal += promptTokens.length;
    completionTokensTotal += gen.tokens.length;
    let logprobs = null;
    if (nLogprobs !== null && opts.llamaServerLogprobs) {
      const scored = (await scoreTokens([...promptTokens, ...gen.tokens])).slice(promptTokens.length);
      const pieces = tokenPieces([...promptTokens, ...gen.tokens]).slice(promptTokens.length);
      logprobs = {content: scored.map((s, i) => ({
        id: gen.tokens[i], token: pieces[i], logprob: s.logprob,
        bytes: [...Buffer.from(pieces[i], "utf8")], top_logprobs: [],
      }))};
    } else if (nLogprobs !== null) {
      const all = [...promptTokens, ...gen.tokens];
      const scored = await scoreTokens(all);
      const first = echo ? 0 : promptTokens.length;
      const pieces = tokenPieces(all).slice(first);
      const tokenLogprobs = scored.slice(first).map((s) => s.logprob);
      if (echo && tokenLogprobs.length) tokenLogprobs[0] = null;  // nothing conditions the first token
      const textOffset = [];
      let off = echo ? 0 : prompt.length;
      for (const piece of pieces) {
        textOffset.push(off);
        off += piece.length;
      }
      logprobs = {tokens: pieces, token_logprobs: tokenLogprobs, text_offset: textOffset};
      if (nLogprobs > 0) {
        logprobs.top_logprobs = scored.slice(first).map((s, i) =>
          echo && i === 0 ? null : topLogprobs(s.probs, nLogprobs, first + i > 0 ? all[first + i - 1] ?? null : null));
      }
    }
    choices.push({
      index,
      text: echo ? prompt + gen.text : gen.text,
      logprobs,
      finish_reason: gen.finishReason,
    });
  }
  return {
    id: `cmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: opts.servedModelName,
    choices,
    usage: {
      prompt_tokens: promptTokensTotal,
      completion_tokens: completionTokensTotal,
      total_tokens: promptTokensTotal + completionTokensTotal,
    },
  };
}

function renderChat(messages) {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new HttpError(400, "messages: expected a non-empty array of {role, content}");
  }
  let text = "";
  messages.forEach((m, i) => {
    if (!m || typeof m !== "object" || typeof m.role !== "string") {
      throw new HttpError(400, `messages[${i}].role: expected a string`);
    }
    let content = m.content;
    if (Array.isArray(content)) {  // [{type: "text", text}] parts
      content = content.map((p) => (p && p.type === "text" && typeof p.text === "string" ? p.text : "")).join("");
    }
    if (typeof content !== "string") throw new HttpError(400, `messages[${i}].content: expected a string`);
    text += i + 1 < messages.length ? content + "\n" : content;
  });
  return text;
}

async function chatCompletions(body) {
  checkModelName(body);
  const prompt = renderChat(body.messages);
  const maxTokens = numberField(body, "max_tokens", numberField(body, "max_completion_tokens", 256, 0, 1 << 20), 0, 1 << 20);
  const temperature = numberField(body, "temperature", 1, 0, 2);
  const topP = numberField(body, "top_p", 1, 0, 1);
  const seed = body.seed === undefined ? undefined : numberField(body, "seed", 0, 0, 2 ** 31);
  const stop = normalizeStop(body.stop);
  const promptTokens = tokenizePrompt(prompt);
  const gen = await generate(promptTokens, prompt, {maxTokens, temperature, topP, seed, stop});
  let logprobs = null;
  if (body.logprobs === true && !opts.noLogprobs) {
    const nTop = numberField(body, "top_logprobs", 0, 0, 20);
    const all = [...promptTokens, ...gen.tokens];
    const scored = await scoreTokens(all).then((s) => s.slice(promptTokens.length));
    const pieces = tokenPieces(all).slice(promptTokens.length);
    logprobs = {
      content: scored.map((s, i) => ({
        token: pieces[i],
        logprob: s.logprob,
        bytes: [...Buffer.from(pieces[i], "utf8")],
        top_logprobs: Object.entries(topLogprobs(s.probs, nTop, all[promptTokens.length + i - 1] ?? null)).map(([token, logprob]) => ({
          token, logprob, bytes: [...Buffer.from(token, "utf8")],
        })),
      })),
    };
  }
  return {
    id: `chatcmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: opts.servedModelName,
    choices: [{
      index: 0,
      message: {role: "assistant", content: gen.text},
      logprobs,
      finish_reason: gen.finishReason,
    }],
    usage: {
      prompt_tokens: promptTokens.length,
      completion_tokens: gen.tokens.length,
      total_tokens: promptTokens.length + gen.tokens.length,
    },
  };
}

function logRequest(endpoint, body, status) {
  if (!opts.requestLog) return;
  const rec = {endpoint, status};
  if (body && typeof body === "object") {
    if ("prompt" in body) rec.prompt = body.prompt;
    if ("messages" in body) rec.messages = body.messages;
  }
  // Synchronous, so the line is on disk even if the process dies next.
  fs.appendFileSync(opts.requestLog, JSON.stringify(rec) + "\n");
}

function sendJson(res, status, obj, extraHeaders = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {"Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...extraHeaders});
  res.end(body);
}

function errorBody(message, type, code = null) {
  return {error: {message, type, param: null, code}};
}

const stats = {requests: 0, prompt_tokens: 0, completion_tokens: 0};
let postCount = 0;
let completionPostCount = 0;

async function handle(req, res, rawBody) {
  const url = new URL(req.url, "http://x");
  const route = url.pathname.replace(/\/+$/, "");
  if (opts.apiKey !== null && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
    const got = req.headers.authorization ? "an invalid API key" : "no API key";
    if (req.method === "POST") logRequest(route, safeParse(rawBody), 401);
    return sendJson(res, 401, errorBody(`Incorrect API key provided: the request had ${got}.`, "invalid_request_error", "invalid_api_key"));
  }
  if (req.method === "GET" && route === "/v1/models") {
    return sendJson(res, 200, {
      object: "list",
      data: [{id: opts.servedModelName, object: "model", created: 0, owned_by: "ocx-test", max_model_len: opts.contextSize}],
    });
  }
  if (req.method === "GET" && route === "/ocx/stats") return sendJson(res, 200, stats);
  if (req.method === "GET" && (route === "/health" || route === "/v1/health")) return sendJson(res, 200, {status: "ok"});
  const handlers = {"/v1/completions": completions, "/v1/chat/completions": chatCompletions};
  if (req.method !== "POST" || !(route in handlers)) {
    return sendJson(res, 404, errorBody(`no route ${req.method} ${url.pathname}`, "NotFoundError"));
  }
  postCount++;
  completionPostCount++;
  const body = safeParse(rawBody);
  if (opts.dieAfter >= 0 && completionPostCount > opts.dieAfter) {
    logRequest(route, body, 0);
    process.kill(process.pid, "SIGKILL");
    return;
  }
  if (postCount <= opts.failFirst) {
    logRequest(route, body, opts.failStatus);
    return sendJson(res, opts.failStatus,
      errorBody(`injected failure ${postCount} of ${opts.failFirst} (--fail-first)`,
        opts.failStatus === 429 ? "rate_limit_exceeded" : "server_error"),
      {"Retry-After": "0"});
  }
  if (body === undefined) {
    logRequest(route, null, 400);
    return sendJson(res, 400, errorBody("the request body is not valid JSON", "invalid_request_error"));
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    logRequest(route, null, 400);
    return sendJson(res, 400, errorBody("the request body must be a JSON object", "invalid_request_error"));
  }
  try {
    const result = await withModel(() => handlers[route](body));
    stats.requests++;
    stats.prompt_tokens += result.usage.prompt_tokens;
    stats.completion_tokens += result.usage.completion_tokens;
    logRequest(route, body, 200);
    if (opts.malformed) {
      const text = JSON.stringify(result);
      const cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
      res.writeHead(200, {"Content-Type": "application/json", "Content-Length": Buffer.byteLength(cut)});
      return res.end(cut);
    }
    return sendJson(res, 200, result);
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    logRequest(route, body, status);
    return sendJson(res, status, errorBody(e.message, e instanceof HttpError ? e.type : "server_error"));
  }
}

function safeParse(raw) {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((e) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(String(e?.message ?? e), "server_error"));
    });
  });
});
// Clients keep connections open between requests; don't close them under them.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;

server.listen(opts.port, opts.host, () => {
  const {port} = server.address();
  process.stdout.write(`listening http://${opts.host}:${port}/v1\n`);
});

const shutdown = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
