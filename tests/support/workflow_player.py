#!/usr/bin/env python3
"""Play one job of a GitHub Actions workflow on this machine, step by step, the way the runner does.

    workflow_player.py --config CONFIG.json [--job NAME] [--report REPORT.json] WORKFLOW.yml

What the runner does, and so this does:
  - the steps run in order in GITHUB_WORKSPACE; `run:` steps as a script file through their shell
    (no shell: `bash -e {0}`; bash: `bash --noprofile --norc -e -o pipefail {0}`; sh: `sh -e {0}`;
    python; or a custom `cmd {0}`), `working-directory`, `timeout-minutes`, `continue-on-error`;
  - `${{ }}` expressions everywhere the runner evaluates them (run, with, env, if, name,
    working-directory, composite outputs) over the contexts github, env, vars, secrets, inputs,
    steps, runner, job, strategy, matrix, needs: literals, property and index access, `.*`, the
    operators ! < <= > >= == != && || with GitHub's coercions and case-insensitive comparisons, and
    the functions contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles,
    success, failure, always, cancelled;
  - `if:` without a status function means `success() && (...)`; a failed step skips the
    following ones except those that ask for always() or failure(); `steps.<id>.outcome` and
    `.conclusion`, `.outputs`;
  - environment: the runner's own (CONFIG env), then workflow and job `env:` overridden by what
    steps wrote to $GITHUB_ENV, then the step's `env:`, then the runner's GITHUB_*/RUNNER_*
    variables; PATH with every $GITHUB_PATH entry in front (the latest first);
  - after every step (a composite action's inner steps included) its $GITHUB_ENV, $GITHUB_OUTPUT,
    $GITHUB_PATH (fresh files per step; `NAME=value` and `NAME<<DELIMITER` forms) and
    $GITHUB_STEP_SUMMARY are applied; workflow commands on stdout and stderr (::add-mask::,
    ::error::, ::warning::, ::notice::, ::group::, ::stop-commands::) are obeyed, and the log is
    printed with the masked values replaced by ***;
  - `uses: OWNER/REPO[/PATH]@REF` of a repository listed in CONFIG actions, or `uses: ./PATH`, is
    played from that directory's action.yml (composite actions: inputs with their defaults, which
    see github.action_repository and github.action_ref of the action, GITHUB_ACTION_PATH, the
    inner steps with their own steps context, the outputs);
  - a few third-party actions are played by stand-ins that do to the job what the real ones do:
    actions/checkout (clones the repository CONFIG stand_ins.checkout names for it at github.sha),
    actions/cache (a restore that finds nothing), aws-actions/configure-aws-credentials (OIDC
    only with `id-token: write`; masks and exports the credentials CONFIG stand_ins.aws_credentials
    gives, AWS_REGION and AWS_DEFAULT_REGION; output aws-account-id), github/codeql-action/
    upload-sarif (needs `security-events: write`; the file must exist and be SARIF 2.1.0, checked
    against the schema with validate_sarif.py beside this file). Any other action is an error.

CONFIG (JSON): workspace, temp, tool_cache (directories), env (the runner's own environment, exactly),
github (the github context: repository, sha, ref, event_name, server_url, event, ...), vars, secrets,
inputs, actions ({"OWNER/REPO": DIR}), stand_ins ({"checkout": {"OWNER/REPO": GIT_DIR},
"aws_credentials": {"access_key_id", "secret_access_key", "session_token"}}).

The report (JSON) has the job's conclusion, every step (name, id, uses or run, outcome, conclusion,
outputs, exit code, inner steps), the job environment after the last step, the PATH entries added,
the annotations and the step summaries.

Exit status: 0 the job succeeded, 1 it failed, 2 the player cannot play it (bad config, a syntax or
an action it does not know).
"""

import argparse
import fnmatch
import glob
import hashlib
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
STATUS_FUNCTIONS = {"success", "failure", "always", "cancelled"}


class PlayerError(Exception):
    """Something the player cannot play (exit 2)."""


# ---------------------------------------------------------------------------------------------
# Expressions


class ExprError(Exception):
    pass


TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,*])
    | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.X,
)


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"unexpected character at {pos} in: {text}")
        pos = m.end()
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
    return tokens


class Filtered(list):
    """The result of `.*`: property access maps over it."""


class Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, value=None):
        if self.i >= len(self.tokens):
            return None
        tok = self.tokens[self.i]
        if value is not None and tok[1] != value:
            return None
        return tok

    def take(self, value=None):
        tok = self.peek(value)
        if tok is None:
            want = f"'{value}'" if value else "more"
            raise ExprError(f"expected {want} in: {self.text}")
        self.i += 1
        return tok

    def parse(self):
        node = self.or_()
        if self.i != len(self.tokens):
            raise ExprError(f"unexpected '{self.tokens[self.i][1]}' in: {self.text}")
        return node

    def or_(self):
        node = self.and_()
        while self.peek("||"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.equality()
        while self.peek("&&"):
            self.take()
            node = ("and", node, self.equality())
        return node

    def equality(self):
        node = self.comparison()
        while self.peek("==") or self.peek("!="):
            op = self.take()[1]
            node = ("cmp", op, node, self.comparison())
        return node

    def comparison(self):
        node = self.unary()
        while any(self.peek(o) for o in ("<", "<=", ">", ">=")):
            op = self.take()[1]
            node = ("cmp", op, node, self.unary())
        return node

    def unary(self):
        if self.peek("!"):
            self.take()
            return ("not", self.unary())
        return self.postfix()

    def postfix(self):
        node = self.primary()
        while True:
            if self.peek("."):
                self.take()
                if self.peek("*"):
                    self.take()
                    node = ("star", node)
                else:
                    kind, name = self.take()
                    if kind != "ident":
                        raise ExprError(f"expected a property name after '.' in: {self.text}")
                    node = ("prop", node, name)
            elif self.peek("["):
                self.take()
                if self.peek("*"):
                    self.take()
                    self.take("]")
                    node = ("star", node)
                else:
                    index = self.or_()
                    self.take("]")
                    node = ("index", node, index)
            else:
                return node

    def primary(self):
        kind, value = self.take()
        if kind == "str":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "num":
            return ("lit", float(int(value, 16)) if value.startswith("0x") else float(value))
        if kind == "op" and value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "ident":
            if value == "true":
                return ("lit", True)
            if value == "false":
                return ("lit", False)
            if value == "null":
                return ("lit", None)
            if self.peek("("):
                self.take()
                args = []
                if not self.peek(")"):
                    args.append(self.or_())
                    while self.peek(","):
                        self.take()
                        args.append(self.or_())
                self.take(")")
                return ("call", value.lower(), args)
            return ("ctx", value)
        raise ExprError(f"unexpected '{value}' in: {self.text}")


def calls(node):
    """The names of the functions an expression calls."""
    if not isinstance(node, tuple):
        return set()
    found = {node[1]} if node[0] == "call" else set()
    for part in node[1:]:
        if isinstance(part, tuple):
            found |= calls(part)
        elif isinstance(part, list):
            for p in part:
                found |= calls(p)
    return found


def truthy(v):
    if v is None or v is False:
        return False
    if isinstance(v, float):
        return not (v == 0 or math.isnan(v))
    if isinstance(v, str):
        return v != ""
    return True


def to_number(v):
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return math.nan
    return math.nan


def to_str(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, indent=2)
    return str(v)


def compare(op, a, b):
    if type(a) is not type(b) or isinstance(a, bool) and not isinstance(b, bool):
        if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
            return op == "!="
        a, b = to_number(a), to_number(b)
    elif isinstance(a, str):
        a, b = a.casefold(), b.casefold()
    elif isinstance(a, (dict, list)):
        same = a is b
        return same if op == "==" else (not same if op == "!=" else False)
    if isinstance(a, float) and (math.isnan(a) or math.isnan(b)):
        return op == "!="
    return {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def lookup(obj, name):
    if isinstance(obj, Filtered):
        out = Filtered()
        for item in obj:
            v = lookup(item, name)
            if v is not None:
                out.append(v)
        return out
    if isinstance(obj, dict):
        if name in obj:
            return obj[name]
        low = name.lower()
        for k, v in obj.items():
            if str(k).lower() == low:
                return v
    return None


def plain(v):
    """A value from YAML or a context, in the expression model (numbers are floats)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return str(v)


class Evaluator:
    def __init__(self, contexts, functions):
        self.contexts = contexts
        self.functions = functions

    def eval(self, node):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ctx":
            name = node[1].lower()
            if name not in self.contexts:
                raise ExprError(f"Unrecognized named-value: '{node[1]}'")
            return self.contexts[name]
        if kind == "prop":
            return lookup(self.eval(node[1]), node[2])
        if kind == "index":
            obj, key = self.eval(node[1]), self.eval(node[2])
            if isinstance(obj, list) and not isinstance(obj, Filtered):
                n = to_number(key)
                if math.isnan(n) or n != int(n) or not 0 <= n < len(obj):
                    return None
                return obj[int(n)]
            return lookup(obj, to_str(key))
        if kind == "star":
            obj = self.eval(node[1])
            if isinstance(obj, dict):
                return Filtered(obj.values())
            if isinstance(obj, list):
                return Filtered(obj)
            return Filtered()
        if kind == "not":
            return not truthy(self.eval(node[1]))
        if kind == "and":
            left = self.eval(node[1])
            return self.eval(node[2]) if truthy(left) else left
        if kind == "or":
            left = self.eval(node[1])
            return left if truthy(left) else self.eval(node[2])
        if kind == "cmp":
            return compare(node[1], self.eval(node[2]), self.eval(node[3]))
        if kind == "call":
            name = node[1]
            if name not in self.functions:
                raise ExprError(f"Unrecognized function: '{name}'")
            return self.functions[name](*[self.eval(a) for a in node[2]])
        raise ExprError(f"bad node {node!r}")


def find_expressions(text):
    """Splits a template into literal text and `${{ expression }}` parts."""
    parts, pos = [], 0
    while True:
        start = text.find("${{", pos)
        if start < 0:
            parts.append(("text", text[pos:]))
            return parts
        parts.append(("text", text[pos:start]))
        i, quoted = start + 3, False
        while i < len(text):
            c = text[i]
            if c == "'":
                quoted = not quoted
            elif not quoted and text.startswith("}}", i):
                break
            i += 1
        if i >= len(text):
            raise ExprError(f"unclosed expression in: {text}")
        parts.append(("expr", text[start + 3 : i].strip()))
        pos = i + 2


def base_functions(workspace):
    def contains(search, item):
        if isinstance(search, list):
            return any(compare("==", x, item) for x in search)
        return to_str(item).casefold() in to_str(search).casefold()

    def fmt(pattern, *args):
        out, i, s = [], 0, to_str(pattern)
        while i < len(s):
            if s.startswith("{{", i):
                out.append("{")
                i += 2
            elif s.startswith("}}", i):
                out.append("}")
                i += 2
            elif s[i] == "{":
                j = s.index("}", i)
                out.append(to_str(args[int(s[i + 1 : j])]))
                i = j + 1
            else:
                out.append(s[i])
                i += 1
        return "".join(out)

    def join(value, sep=","):
        if isinstance(value, list):
            return to_str(sep).join(to_str(x) for x in value)
        return to_str(value)

    def hash_files(*patterns):
        include, exclude = [], []
        for p in patterns:
            for line in to_str(p).splitlines():
                line = line.strip()
                if line:
                    (exclude if line.startswith("!") else include).append(line.lstrip("!"))
        files = set()
        for pat in include:
            for f in glob.glob(os.path.join(workspace, pat), recursive=True):
                if os.path.isfile(f):
                    rel = os.path.relpath(f, workspace)
                    if not any(fnmatch.fnmatch(rel, e) for e in exclude):
                        files.add(f)
        if not files:
            return ""
        total = hashlib.sha256()
        for f in sorted(files):
            with open(f, "rb") as fh:
                total.update(hashlib.sha256(fh.read()).digest())
        return total.hexdigest()

    return {
        "contains": contains,
        "startswith": lambda s, v: to_str(s).casefold().startswith(to_str(v).casefold()),
        "endswith": lambda s, v: to_str(s).casefold().endswith(to_str(v).casefold()),
        "format": fmt,
        "join": join,
        "tojson": lambda v: json.dumps(v, indent=2),
        "fromjson": lambda s: plain(json.loads(to_str(s))),
        "hashfiles": hash_files,
    }


# ---------------------------------------------------------------------------------------------
# File commands


def parse_file_command(path):
    """Reads a $GITHUB_ENV / $GITHUB_OUTPUT file: `NAME=value` and `NAME<<DELIMITER` entries."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    pairs = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "":
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            pairs.append((line[:eq], line[eq + 1 :]))
        elif heredoc >= 0:
            name, delim = line[:heredoc], line[heredoc + 2 :]
            if not name or not delim:
                raise PlayerError(f"Invalid format '{line}' in {path}")
            value = []
            while True:
                if i >= len(lines):
                    raise PlayerError(f"Invalid value. Matching delimiter not found '{delim}' in {path}")
                if lines[i] == delim:
                    i += 1
                    break
                value.append(lines[i])
                i += 1
            pairs.append((name, "\n".join(value)))
        else:
            raise PlayerError(f"Invalid format '{line}' in {path}")
    return pairs


def unescape_data(s):
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


# ---------------------------------------------------------------------------------------------
# The job


class StepResult:
    def __init__(self, record, outcome, conclusion, outputs):
        self.record = record
        self.outcome = outcome
        self.conclusion = conclusion
        self.outputs = outputs


class Scope:
    """Where steps run: the job, or a composite action (its inputs, its own steps context)."""

    def __init__(self, inputs, action_path=None, action_env=None, depth=0):
        self.inputs = inputs
        self.steps = {}
        self.action_path = action_path
        self.action_env = action_env or {}
        self.depth = depth


class Player:
    def __init__(self, config, workflow_path, job_name):
        self.cfg = config
        with open(workflow_path, encoding="utf-8") as fh:
            self.workflow = yaml.safe_load(fh)
        if not isinstance(self.workflow, dict) or "jobs" not in self.workflow:
            raise PlayerError(f"{workflow_path}: not a workflow (no jobs)")
        # YAML 1.1 reads the key `on` as true.
        if True in self.workflow:
            self.workflow["on"] = self.workflow.pop(True)
        jobs = self.workflow["jobs"]
        if job_name is None:
            if len(jobs) != 1:
                raise PlayerError(f"the workflow has jobs {list(jobs)}: name one with --job")
            job_name = next(iter(jobs))
        if job_name not in jobs:
            raise PlayerError(f"no job {job_name!r} in the workflow (jobs: {list(jobs)})")
        self.job_name = job_name
        self.job = jobs[job_name]
        for key in ("container", "services", "strategy", "uses"):
            if key in self.job:
                raise PlayerError(f"job {job_name}: `{key}` is not supported by the player")

        self.workspace = os.path.abspath(config["workspace"])
        self.temp = os.path.abspath(config["temp"])
        self.tool_cache = os.path.abspath(config.get("tool_cache") or os.path.join(self.temp, "tool_cache"))
        for d in (self.workspace, self.temp, self.tool_cache):
            os.makedirs(d, exist_ok=True)
        self.runner_temp = os.path.join(self.temp, "_temp")
        self.commands_dir = os.path.join(self.temp, "_runner_file_commands")
        os.makedirs(self.runner_temp, exist_ok=True)
        os.makedirs(self.commands_dir, exist_ok=True)

        self.base_env = dict(config.get("env") or {})
        self.vars = plain(config.get("vars") or {})
        self.secrets = plain(config.get("secrets") or {})
        self.job_inputs = plain(config.get("inputs") or {})
        self.actions = config.get("actions") or {}
        self.stand_ins = config.get("stand_ins") or {}

        gh = dict(config.get("github") or {})
        gh.setdefault("server_url", "https://github.com")
        gh.setdefault("api_url", "https://api.github.com")
        gh.setdefault("graphql_url", "https://api.github.com/graphql")
        gh.setdefault("repository", "OWNER/REPO")
        gh.setdefault("repository_owner", gh["repository"].split("/")[0])
        gh.setdefault("event_name", "push")
        gh.setdefault("ref", "refs/heads/main")
        gh.setdefault("ref_name", gh["ref"].rsplit("/", 1)[-1])
        gh.setdefault("ref_type", "tag" if gh["ref"].startswith("refs/tags/") else "branch")
        gh.setdefault("sha", "0" * 40)
        gh.setdefault("run_id", "1")
        gh.setdefault("run_number", "1")
        gh.setdefault("run_attempt", "1")
        gh.setdefault("actor", "octocat")
        gh.setdefault("workflow", self.workflow.get("name") or os.path.basename(workflow_path))
        gh.setdefault("event", {})
        gh.setdefault("head_ref", "")
        gh.setdefault("base_ref", "")
        gh.setdefault("token", "")
        gh["job"] = job_name
        gh["workspace"] = self.workspace
        event_dir = os.path.join(self.temp, "_github_workflow")
        os.makedirs(event_dir, exist_ok=True)
        gh["event_path"] = os.path.join(event_dir, "event.json")
        with open(gh["event_path"], "w", encoding="utf-8") as fh:
            json.dump(gh["event"], fh)
        self.github = gh
        if gh["token"]:
            self.masks = {gh["token"]}
        else:
            self.masks = set()
        for v in self.secrets.values():
            if isinstance(v, str) and v:
                self.masks.add(v)

        self.runner = {
            "os": "Linux",
            "arch": "X64",
            "name": "workflow-player",
            "environment": "self-hosted",
            "temp": self.runner_temp,
            "tool_cache": self.tool_cache,
            "debug": "",
        }
        self.permissions = self.job.get("permissions", self.workflow.get("permissions"))
        defaults = {}
        for level in (self.workflow, self.job):
            defaults.update(((level.get("defaults") or {}).get("run")) or {})
        self.run_defaults = defaults

        self.failed = False
        self.global_env = {}
        self.prepend_path = []
        self.annotations = []
        self.summaries = []
        self.counter = 0
        self.lock = threading.Lock()

    # -- contexts ------------------------------------------------------------------------------

    def permission(self, name):
        p = self.permissions
        if p is None:
            # The default token: read access to the repository's contents, no OIDC token.
            return "read" if name in ("contents", "metadata", "packages") else "none"
        if isinstance(p, str):
            return {"read-all": "read", "write-all": "write"}.get(p, "none")
        return str(p.get(name, "none"))

    def contexts(self, scope, env, github_extra=None):
        gh = dict(self.github)
        if github_extra:
            gh.update(github_extra)
        steps = {
            k: {"outputs": r.outputs, "outcome": r.outcome, "conclusion": r.conclusion}
            for k, r in scope.steps.items()
        }
        return {
            "github": plain(gh),
            "env": plain(env),
            "vars": self.vars,
            "secrets": self.secrets,
            "inputs": plain(scope.inputs),
            "steps": steps,
            "runner": plain(self.runner),
            "job": {"status": "failure" if self.failed else "success"},
            "strategy": {},
            "matrix": {},
            "needs": {},
        }

    def functions(self, status=True):
        fns = base_functions(self.workspace)
        if status:
            fns["success"] = lambda: not self.failed
            fns["failure"] = lambda: self.failed
            fns["always"] = lambda: True
            fns["cancelled"] = lambda: False
        return fns

    def evaluate(self, text, ctx, status=False):
        """A template (`a ${{ b }} c`) to its string value; a whole `${{ x }}` keeps x's type."""
        if not isinstance(text, str):
            return text
        parts = find_expressions(text)
        ev = Evaluator(ctx, self.functions(status))
        exprs = [p for p in parts if p[0] == "expr"]
        if len(parts) == 3 and parts[0] == ("text", "") and parts[2] == ("text", "") and exprs:
            return ev.eval(Parser(exprs[0][1]).parse())
        out = []
        for kind, value in parts:
            out.append(value if kind == "text" else to_str(ev.eval(Parser(value).parse())))
        return "".join(out)

    def evaluate_str(self, value, ctx):
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return to_str(float(value))
        return to_str(self.evaluate(str(value), ctx))

    def condition(self, value, ctx):
        if value is None:
            return not self.failed
        if isinstance(value, bool):
            return (not self.failed) and value
        text = str(value).strip()
        parts = find_expressions(text)
        if len(parts) == 3 and parts[0] == ("text", "") and parts[2] == ("text", ""):
            text = parts[1][1]
        elif any(k == "expr" for k, _ in parts):
            return (not self.failed) and truthy(self.evaluate(text, ctx))
        node = Parser(text).parse()
        if not (calls(node) & STATUS_FUNCTIONS):
            node = ("and", ("call", "success", []), node)
        return truthy(Evaluator(ctx, self.functions(True)).eval(node))

    # -- logging -------------------------------------------------------------------------------

    def mask(self, line):
        for m in sorted(self.masks, key=len, reverse=True):
            if m:
                line = line.replace(m, "***")
        return line

    def log(self, depth, line):
        with self.lock:
            print("  " * depth + "| " + self.mask(line), flush=True)

    def heading(self, depth, text):
        with self.lock:
            print("  " * depth + "> " + self.mask(text), flush=True)

    def command(self, depth, line, state):
        """Obeys a workflow command on a step's stdout or stderr; True when the line was one."""
        stripped = line.lstrip()
        if state.get("stop"):
            if stripped == f"::{state['stop']}::":
                state["stop"] = None
                return True
            return False
        m = re.match(r"^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$", stripped)
        if not m:
            return False
        name, props, data = m.group(1).lower(), m.group(2) or "", m.group(3)
        if name == "add-mask":
            value = unescape_data(data)
            with self.lock:
                if value.strip():
                    self.masks.add(value)
                    for part in value.splitlines():
                        if part.strip():
                            self.masks.add(part)
            return True
        if name in ("error", "warning", "notice"):
            self.annotations.append({"level": name, "properties": props, "message": unescape_data(data)})
            self.log(depth, f"{name}: {unescape_data(data)}")
            return True
        if name == "stop-commands":
            state["stop"] = data
            return True
        if name in ("group", "endgroup", "debug", "echo"):
            if name == "group":
                self.log(depth, f"[{unescape_data(data)}]")
            return True
        return False

    # -- steps ---------------------------------------------------------------------------------

    def run_job(self):
        ctx = self.contexts(Scope(self.job_inputs), {})
        workflow_env = {k: self.evaluate_str(v, ctx) for k, v in (self.workflow.get("env") or {}).items()}
        ctx = self.contexts(Scope(self.job_inputs), workflow_env)
        job_env = {k: self.evaluate_str(v, ctx) for k, v in (self.job.get("env") or {}).items()}
        self.global_env = {**workflow_env, **job_env}
        scope = Scope(self.job_inputs)
        # Every action the job names is known before anything runs (the runner downloads them first).
        for step in self.job.get("steps") or []:
            if isinstance(step, dict) and isinstance(step.get("uses"), str):
                self.resolve(step["uses"])
        if "if" in self.job and not self.condition(self.job["if"], self.contexts(scope, self.global_env)):
            return {"conclusion": "skipped", "steps": []}
        records = self.run_steps(self.job.get("steps") or [], scope)
        return {
            "conclusion": "failure" if self.failed else "success",
            "steps": records,
            "env": self.global_env,
            "path": list(reversed(self.prepend_path)),
            "annotations": self.annotations,
            "summary": "".join(self.summaries),
        }

    def run_steps(self, steps, scope):
        records = []
        for index, step in enumerate(steps):
            if not isinstance(step, dict) or ("run" in step) == ("uses" in step):
                raise PlayerError(f"step {index + 1}: needs exactly one of `run` and `uses`: {step!r}")
            self.counter += 1
            step_id = str(step.get("id") or f"__{self.counter}")
            result = self.run_step(step, step_id, scope)
            scope.steps[step_id] = result
            records.append(result.record)
        return records

    def step_env(self, step, scope):
        """The step's environment (the env context), and what its scope and its own `env:` add to
        the job's (a composite action's inner steps inherit that)."""
        own = dict(scope.action_env)
        ctx = self.contexts(scope, {**self.global_env, **own})
        for k, v in (step.get("env") or {}).items():
            own[str(k)] = self.evaluate_str(v, ctx)
        return {**self.global_env, **own}, own

    def run_step(self, step, step_id, scope):
        depth = scope.depth
        env, own_env = self.step_env(step, scope)
        ctx = self.contexts(scope, env)
        if "uses" in step:
            default_name = f"Run {step['uses']}"
        else:
            default_name = "Run " + str(step["run"]).strip().splitlines()[0] if str(step["run"]).strip() else "Run"
        try:
            name = self.evaluate_str(step.get("name"), ctx) if step.get("name") else default_name
        except ExprError:
            name = str(step.get("name"))
        record = {"name": name, "id": step.get("id"), "outputs": {}}
        if "uses" in step:
            record["uses"] = step["uses"]
        else:
            record["run"] = step["run"]
        if not self.condition(step.get("if"), ctx):
            self.heading(depth, f"{name} (skipped)")
            record.update(outcome="skipped", conclusion="skipped")
            return StepResult(record, "skipped", "skipped", {})

        self.heading(depth, name)
        files = self.command_files()
        try:
            if "run" in step:
                code = self.run_script(step, step_id, scope, env, ctx, files)
                record["exit_code"] = code
                ok = code == 0
                inner_outputs = None
            else:
                ok, inner_outputs, inner = self.run_uses(step, step_id, scope, env, own_env, ctx, files)
                if inner is not None:
                    record["steps"] = inner
        except ExprError as e:
            self.log(depth, f"error: {e}")
            self.annotations.append({"level": "error", "properties": "", "message": str(e)})
            ok, inner_outputs = False, None
        outputs = self.apply_files(files)
        if inner_outputs is not None:
            outputs.update(inner_outputs)
        outcome = "success" if ok else "failure"
        conclusion = outcome
        if not ok:
            coe = step.get("continue-on-error", False)
            if isinstance(coe, str):
                coe = truthy(self.evaluate(coe, ctx))
            if coe:
                conclusion = "success"
            else:
                self.failed = True
        record.update(outcome=outcome, conclusion=conclusion, outputs=outputs)
        self.log(depth, f"-> {outcome}")
        return StepResult(record, outcome, conclusion, outputs)

    def command_files(self):
        key = uuid.uuid4().hex
        files = {
            "GITHUB_ENV": os.path.join(self.commands_dir, f"set_env_{key}"),
            "GITHUB_OUTPUT": os.path.join(self.commands_dir, f"set_output_{key}"),
            "GITHUB_PATH": os.path.join(self.commands_dir, f"add_path_{key}"),
            "GITHUB_STATE": os.path.join(self.commands_dir, f"save_state_{key}"),
            "GITHUB_STEP_SUMMARY": os.path.join(self.commands_dir, f"step_summary_{key}"),
        }
        for path in files.values():
            open(path, "w").close()
        return files

    def apply_files(self, files):
        for name, value in parse_file_command(files["GITHUB_ENV"]):
            if name != "NODE_OPTIONS":
                self.global_env[name] = value
        outputs = dict(parse_file_command(files["GITHUB_OUTPUT"]))
        with open(files["GITHUB_PATH"], encoding="utf-8") as fh:
            for line in fh.read().split("\n"):
                if line:
                    if line in self.prepend_path:
                        self.prepend_path.remove(line)
                    self.prepend_path.append(line)
        with open(files["GITHUB_STEP_SUMMARY"], encoding="utf-8") as fh:
            summary = fh.read()
        if summary:
            self.summaries.append(summary)
        return outputs

    def process_env(self, env, files, github_extra):
        gh = dict(self.github)
        gh.update(github_extra or {})
        proc = dict(self.base_env)
        proc.update(env)
        runtime = {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": self.workspace,
            "GITHUB_SHA": gh["sha"],
            "GITHUB_REF": gh["ref"],
            "GITHUB_REF_NAME": gh["ref_name"],
            "GITHUB_REF_TYPE": gh["ref_type"],
            "GITHUB_HEAD_REF": gh["head_ref"],
            "GITHUB_BASE_REF": gh["base_ref"],
            "GITHUB_REPOSITORY": gh["repository"],
            "GITHUB_REPOSITORY_OWNER": gh["repository_owner"],
            "GITHUB_RUN_ID": str(gh["run_id"]),
            "GITHUB_RUN_NUMBER": str(gh["run_number"]),
            "GITHUB_RUN_ATTEMPT": str(gh["run_attempt"]),
            "GITHUB_ACTOR": gh["actor"],
            "GITHUB_EVENT_NAME": gh["event_name"],
            "GITHUB_EVENT_PATH": gh["event_path"],
            "GITHUB_SERVER_URL": gh["server_url"],
            "GITHUB_API_URL": gh["api_url"],
            "GITHUB_GRAPHQL_URL": gh["graphql_url"],
            "GITHUB_WORKFLOW": gh["workflow"],
            "GITHUB_JOB": self.job_name,
            "GITHUB_ACTION": gh.get("action", ""),
            "GITHUB_ACTION_REPOSITORY": gh.get("action_repository") or "",
            "GITHUB_ACTION_REF": gh.get("action_ref") or "",
            "RUNNER_OS": self.runner["os"],
            "RUNNER_ARCH": self.runner["arch"],
            "RUNNER_NAME": self.runner["name"],
            "RUNNER_ENVIRONMENT": self.runner["environment"],
            "RUNNER_TEMP": self.runner_temp,
            "RUNNER_TOOL_CACHE": self.tool_cache,
        }
        if gh.get("action_path"):
            runtime["GITHUB_ACTION_PATH"] = gh["action_path"]
        runtime.update(files)
        if self.permission("id-token") == "write":
            oidc = self.stand_ins.get("oidc") or {}
            runtime["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc.get("url", "http://127.0.0.1:9/_oidc/token")
            runtime["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = oidc.get("token", "oidc-request-token")
            self.masks.add(runtime["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
        proc.update(runtime)
        if self.prepend_path:
            base_path = env.get("PATH", self.base_env.get("PATH", ""))
            proc["PATH"] = os.pathsep.join(list(reversed(self.prepend_path)) + ([base_path] if base_path else []))
        return proc

    def shell_command(self, shell, script_path):
        if not shell:
            bash = self.which("bash")
            return [bash or self.which("sh") or "sh", "-e", script_path]
        builtin = {
            "bash": ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "{0}"],
            "sh": ["sh", "-e", "{0}"],
            "python": ["python", "{0}"],
        }
        if shell in builtin:
            argv = builtin[shell]
        else:
            argv = shlex.split(shell)
            if "{0}" not in shell:
                raise PlayerError(f"shell {shell!r}: not a built-in shell nor a format with {{0}}")
        return [a.replace("{0}", script_path) for a in argv]

    def which(self, name):
        path = os.pathsep.join(list(reversed(self.prepend_path)) + [self.base_env.get("PATH", "")])
        for d in path.split(os.pathsep):
            candidate = os.path.join(d, name)
            if d and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    def run_script(self, step, step_id, scope, env, ctx, files):
        depth = scope.depth
        script = self.evaluate_str(step["run"], ctx)
        shell = step.get("shell") or (None if scope.action_path else self.run_defaults.get("shell"))
        if scope.action_path and not shell:
            raise PlayerError("a composite action's run step needs `shell`")
        ext = {"python": ".py", "sh": ".sh", "bash": ".sh"}.get(shell or "bash", "")
        script_path = os.path.join(self.runner_temp, f"{uuid.uuid4()}{ext}")
        with open(script_path, "w", encoding="utf-8") as fh:
            fh.write(script)
        wd = step.get("working-directory") or (None if scope.action_path else self.run_defaults.get("working-directory"))
        cwd = self.workspace
        if wd:
            cwd = os.path.join(self.workspace, self.evaluate_str(wd, ctx))
        # A run step is no action: github.action_repository and action_ref are unset (inside a
        # composite action too), GITHUB_ACTION_PATH is the composite action's directory.
        extra = {"action": step_id, "action_repository": None, "action_ref": None}
        if scope.action_path:
            extra["action_path"] = scope.action_path
        proc_env = self.process_env(env, files, extra)
        argv = self.shell_command(shell, script_path)
        if not os.path.isabs(argv[0]):
            found = self.which_in(proc_env.get("PATH", ""), argv[0])
            if found:
                argv[0] = found
        timeout = step.get("timeout-minutes")
        timeout = float(self.evaluate_str(timeout, ctx)) * 60 if timeout is not None else None
        return self.spawn(argv, cwd, proc_env, depth, timeout)

    @staticmethod
    def which_in(path, name):
        for d in path.split(os.pathsep):
            candidate = os.path.join(d, name)
            if d and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    def spawn(self, argv, cwd, env, depth, timeout):
        try:
            child = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            self.log(depth, f"error: cannot start {argv[0]}: {e}")
            return 127
        state = {}

        def pump(stream):
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
                if not self.command(depth, line, state):
                    self.log(depth, line)

        threads = [threading.Thread(target=pump, args=(s,)) for s in (child.stdout, child.stderr)]
        for t in threads:
            t.start()
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            self.log(depth, f"error: the step has timed out after {timeout / 60:g} minutes")
            code = 124
        for t in threads:
            t.join()
        return code

    # -- actions -------------------------------------------------------------------------------

    def resolve(self, uses):
        """(kind, where): ("dir", path) for an action played from its action.yml, ("stand-in", name)."""
        if uses.startswith("./"):
            return "dir", os.path.join(self.workspace, uses[2:])
        if uses.startswith("docker://"):
            raise PlayerError(f"{uses}: docker actions are not supported by the player")
        if "@" not in uses:
            raise PlayerError(f"{uses}: an action needs @REF")
        name, ref = uses.split("@", 1)
        parts = name.split("/")
        repo = "/".join(parts[:2])
        for key, path in self.actions.items():
            if key.lower() == repo.lower():
                return "dir", os.path.join(path, *parts[2:])
        if name.lower() in STAND_INS:
            return "stand-in", name.lower()
        raise PlayerError(f"{uses}: no stand-in for this action and not in the config's actions")

    def run_uses(self, step, step_id, scope, env, own_env, ctx, files):
        uses = step["uses"]
        kind, where = self.resolve(uses)
        with_inputs = {str(k): self.evaluate_str(v, ctx) for k, v in (step.get("with") or {}).items()}
        name, _, ref = uses.partition("@")
        local = uses.startswith("./")
        extra = {
            "action": step_id,
            "action_repository": None if local else "/".join(name.split("/")[:2]),
            "action_ref": None if local else ref,
        }
        if kind == "stand-in":
            proc_env = self.process_env(env, files, extra)
            io = StandInIO(self, scope.depth, files)
            try:
                STAND_INS[where](self, io, with_inputs, proc_env)
                ok = True
            except StandInFailure as e:
                io.log(f"::error::{e}")
                ok = False
            return ok, None, None
        return self.run_composite(where, uses, with_inputs, scope, env, own_env, extra)

    def run_composite(self, directory, uses, with_inputs, scope, env, own_env, extra):
        for name in ("action.yml", "action.yaml"):
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                break
        else:
            raise PlayerError(f"{uses}: no action.yml in {directory}")
        with open(path, encoding="utf-8") as fh:
            action = yaml.safe_load(fh)
        runs = action.get("runs") or {}
        if runs.get("using") != "composite":
            raise PlayerError(f"{uses}: only composite actions are played (this one is {runs.get('using')!r})")
        # The inputs' defaults are evaluated where the step runs, with the action's ref set.
        gh_extra = {**extra, "action_path": directory}
        ctx = self.contexts(scope, env, gh_extra)
        inputs = {}
        for name, spec in (action.get("inputs") or {}).items():
            spec = spec or {}
            if name in with_inputs:
                inputs[name] = with_inputs[name]
            elif "default" in spec:
                inputs[name] = self.evaluate_str(spec["default"], ctx)
            else:
                if spec.get("required"):
                    self.log(scope.depth, f"warning: input required and not supplied: {name}")
                inputs[name] = ""
        for name in with_inputs:
            if name not in inputs:
                self.log(scope.depth, f"warning: unexpected input '{name}'")
                inputs[name] = with_inputs[name]
        inner = Scope(inputs, directory, own_env, scope.depth + 1)
        failed_before = self.failed
        records = self.run_steps(runs.get("steps") or [], inner)
        ok = all(r.conclusion != "failure" for r in inner.steps.values())
        if not failed_before and not ok:
            self.failed = True
        outputs = {}
        octx = self.contexts(inner, {**self.global_env, **inner.action_env}, {"action_path": directory})
        for name, spec in (action.get("outputs") or {}).items():
            outputs[name] = self.evaluate_str((spec or {}).get("value"), octx)
        # The job's status is the job's; the composite step's own failure is recorded by its caller.
        self.failed = failed_before
        return ok, outputs, records


# ---------------------------------------------------------------------------------------------
# Stand-ins for third-party actions


class StandInFailure(Exception):
    pass


class StandInIO:
    """What an action's toolkit does: log lines (workflow commands obeyed), exportVariable, setOutput."""

    def __init__(self, player, depth, files):
        self.player = player
        self.depth = depth
        self.files = files
        self.state = {}

    def log(self, line):
        if not self.player.command(self.depth, line, self.state):
            self.player.log(self.depth, line)

    def _append(self, name, key, value):
        delim = f"ghadelimiter_{uuid.uuid4()}"
        with open(self.files[name], "a", encoding="utf-8") as fh:
            fh.write(f"{key}<<{delim}\n{value}\n{delim}\n")

    def export(self, key, value):
        self._append("GITHUB_ENV", key, value)

    def output(self, key, value):
        self._append("GITHUB_OUTPUT", key, value)

    def secret(self, value):
        self.log(f"::add-mask::{value}")


def checkout(player, io, inputs, env):
    if player.permission("contents") not in ("read", "write"):
        raise StandInFailure("Resource not accessible by integration (the job's token has no `contents: read`)")
    repo = inputs.get("repository") or player.github["repository"]
    sources = player.stand_ins.get("checkout") or {}
    source = next((v for k, v in sources.items() if k.lower() == repo.lower()), None)
    if source is None:
        raise StandInFailure(f"the player has no repository to check out for {repo} (config stand_ins.checkout)")
    target = os.path.join(player.workspace, inputs.get("path") or ".")
    ref = inputs.get("ref") or player.github["sha"]
    io.log(f"Syncing repository: {repo}")
    for argv in (
        ["git", "init", "-q", target],
        ["git", "-C", target, "fetch", "-q", "--no-tags", source, "+refs/heads/*:refs/remotes/origin/*"],
        ["git", "-C", target, "checkout", "-q", "--force", "--detach", ref],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise StandInFailure(f"{' '.join(argv)}: {done.stderr.strip()}")
    head = subprocess.run(["git", "-C", target, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    io.log(f"HEAD is now at {head}")


def cache(player, io, inputs, env):
    for required in ("path", "key"):
        if not inputs.get(required):
            raise StandInFailure(f"Input required and not supplied: {required}")
    key = inputs["key"]
    if "," in key or len(key) > 512:
        raise StandInFailure(f"Key Validation Error: {key} cannot contain commas or exceed 512 characters.")
    io.log(f"Cache not found for input keys: {key}")


def configure_aws_credentials(player, io, inputs, env):
    region = inputs.get("aws-region", "")
    if not region:
        raise StandInFailure("Input required and not supplied: aws-region")
    if not re.match(r"^[a-z0-9-]+$", region):
        raise StandInFailure(f"Region is not valid: {region}")
    role = inputs.get("role-to-assume", "")
    access_key = inputs.get("aws-access-key-id", "")
    io.export("AWS_DEFAULT_REGION", region)
    io.export("AWS_REGION", region)
    creds = player.stand_ins.get("aws_credentials") or {}
    if role and not access_key and not inputs.get("web-identity-token-file"):
        if not env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
            io.log(
                "It looks like you might be trying to authenticate with OIDC. Did you mean to set the "
                "`id-token` permission?"
            )
            if not env.get("AWS_ACCESS_KEY_ID"):
                raise StandInFailure("Could not load credentials from any providers")
            raise StandInFailure("the stand-in does not chain roles from existing credentials")
        m = re.match(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/.+$", role)
        if not m:
            raise StandInFailure(f"Could not assume role with OIDC: not a role ARN: {role!r}")
        if not creds.get("access_key_id") or not creds.get("secret_access_key"):
            raise StandInFailure("the player's config has no stand_ins.aws_credentials to hand out")
        account = m.group(1)
        io.log("Assuming role with OIDC")
        values = {
            "AWS_ACCESS_KEY_ID": creds["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"],
            "AWS_SESSION_TOKEN": creds.get("session_token", ""),
        }
        for v in values.values():
            if v:
                io.secret(v)
        for k, v in values.items():
            if v:
                io.export(k, v)
        session = inputs.get("role-session-name") or "GitHubActions"
        io.log(f"Authenticated as assumedRoleId AROA{account}:{session}")
        if (inputs.get("mask-aws-account-id") or "false").lower() == "true":
            io.secret(account)
        io.output("aws-account-id", account)
        return
    if access_key:
        if not inputs.get("aws-secret-access-key"):
            raise StandInFailure("'aws-secret-access-key' must be provided if 'aws-access-key-id' is provided")
        io.secret(access_key)
        io.secret(inputs["aws-secret-access-key"])
        io.export("AWS_ACCESS_KEY_ID", access_key)
        io.export("AWS_SECRET_ACCESS_KEY", inputs["aws-secret-access-key"])
        if inputs.get("aws-session-token"):
            io.secret(inputs["aws-session-token"])
            io.export("AWS_SESSION_TOKEN", inputs["aws-session-token"])
        if role:
            raise StandInFailure("the stand-in does not assume roles with access keys")
        io.log("Proceeding with IAM user credentials")
        return
    if not env.get("AWS_ACCESS_KEY_ID"):
        raise StandInFailure("Could not load credentials from any providers")
    io.log("Proceeding with IAM user credentials")


def upload_sarif(player, io, inputs, env):
    if player.permission("security-events") != "write":
        raise StandInFailure("Resource not accessible by integration (the job's token has no `security-events: write`)")
    checkout_path = inputs.get("checkout_path") or player.workspace
    target = os.path.join(checkout_path, inputs.get("sarif_file") or "../results")
    if os.path.isdir(target):
        found = sorted(glob.glob(os.path.join(target, "**", "*.sarif"), recursive=True))
        if not found:
            raise StandInFailure(f"No SARIF files found to upload in \"{target}\".")
    elif os.path.isfile(target):
        found = [target]
    else:
        raise StandInFailure(f"Path does not exist: {inputs.get('sarif_file') or '../results'}")
    validator = os.path.join(HERE, "validate_sarif.py")
    for path in found:
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as e:
            raise StandInFailure(f"Invalid SARIF. JSON syntax error: {e}")
        if not isinstance(doc, dict) or doc.get("version") != "2.1.0" or not isinstance(doc.get("runs"), list):
            raise StandInFailure(f"Invalid SARIF in {path}: not a SARIF 2.1.0 log (version and runs)")
        if os.path.isfile(validator):
            done = subprocess.run([sys.executable, validator, path], capture_output=True, text=True)
            if done.returncode != 0:
                raise StandInFailure(f"Unable to upload \"{path}\" as it is not valid SARIF:\n{done.stdout}{done.stderr}")
        results = sum(len(r.get("results") or []) for r in doc["runs"])
        io.log(f"Uploading {os.path.relpath(path, player.workspace)}: {len(doc['runs'])} run(s), {results} result(s)")
    io.output("sarif-id", str(uuid.uuid4()))


STAND_INS = {
    "actions/checkout": checkout,
    "actions/cache": cache,
    "aws-actions/configure-aws-credentials": configure_aws_credentials,
    "github/codeql-action/upload-sarif": upload_sarif,
}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workflow")
    parser.add_argument("--config", required=True)
    parser.add_argument("--job")
    parser.add_argument("--report")
    args = parser.parse_args(argv[1:])
    try:
        with open(args.config, encoding="utf-8") as fh:
            config = json.load(fh)
        player = Player(config, args.workflow, args.job)
        report = player.run_job()
    except (PlayerError, ExprError, OSError, ValueError, KeyError) as e:
        print(f"workflow-player: error: {e}", file=sys.stderr, flush=True)
        return 2
    print(f"job {player.job_name}: {report['conclusion']}", flush=True)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 0 if report["conclusion"] in ("success", "skipped") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
