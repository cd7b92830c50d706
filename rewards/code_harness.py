# grpo code-reward harness. rewards/code_harness.c holds this text as a C string: edit this file, then regenerate it (tools/gen_code_harness.py); test_code_reward checks that they match.
# Runs the model's solution, then the tests, each in its own try block, and reports every
# result on fd 3 as "<nonce> T <index> <ok> <hex message>". The nonce comes from job.json,
# which this script reads and deletes before any model code runs, so the solution can
# neither read it from disk nor find it in this file. Exiting early (sys.exit, os._exit,
# SystemExit, closing stdout, printing look-alike lines) therefore leaves tests unreported,
# and an unreported test counts as failed.
import ast, collections, fractions, json, os, signal, types


def _grpo_main():
    # Everything used after the solution runs is bound now: the solution may rebind builtins.
    _exec, _type, _str, _isinstance, _BE, _len = exec, type, str, isinstance, BaseException, len
    _write, _exit, _fn = os.write, os._exit, types.FunctionType
    _setitimer, _signal, _REAL, _ALRM = signal.setitimer, signal.signal, signal.ITIMER_REAL, signal.SIGALRM
    _seqs, _dict_keys, _dict_values = (list, tuple, set, frozenset, collections.deque), dict.keys, dict.values
    _iters = {list: list.__iter__, tuple: tuple.__iter__, set: set.__iter__, frozenset: frozenset.__iter__}
    with open("job.json", "rb") as f:
        job = json.loads(f.read())
    os.unlink("job.json")
    nonce = job["nonce"].encode()

    def report(kind, i=0, ok=0, msg=""):
        try:
            m = _str(msg)[:402].encode("utf-8", "replace").hex().encode()
        except _BE:
            m = b""
        try:
            _write(3, b"%s %s %d %d %s\n" % (nonce, kind, i, ok, m))
        except _BE:
            pass

    def describe(e):
        try:
            s = _str(e)
            n = _type(e).__name__
            return n + (": " + s if s else "")
        except _BE:
            return "exception"

    # The "always equal" hack: a solution returns an object whose __eq__ says True to
    # anything. `assert X == Y` in a test is rewritten to `assert _grpo_eq(X, Y)`, which
    # refuses values holding an object whose __eq__ is Python code (outside a few stdlib types).
    allowed = {fractions.Fraction, collections.Counter, collections.OrderedDict}

    def custom_eq(x):
        stack, n = [x], 0
        while stack and n < 20000:
            v = stack.pop()
            n += 1
            t = _type(v)
            eqf = None
            for k in t.__mro__:
                if "__eq__" in k.__dict__:
                    eqf = k.__dict__["__eq__"]
                    break
            if _isinstance(eqf, _fn) and t not in allowed:
                return True
            if _isinstance(v, dict):
                stack.extend(_dict_keys(v))
                stack.extend(_dict_values(v))
            elif _isinstance(v, _seqs):
                for base, it in _iters.items():
                    if _isinstance(v, base):
                        stack.extend(it(v))
                        break
                else:
                    stack.extend(collections.deque.__iter__(v))
        return False

    def grpo_eq(a, b):
        if custom_eq(a) or custom_eq(b):
            raise AssertionError("refused: == on an object with a custom __eq__")
        return a == b

    class Rewrite(ast.NodeTransformer):
        def visit_Assert(self, node):
            self.generic_visit(node)
            t = node.test
            if _isinstance(t, ast.Compare) and _len(t.ops) == 1 and _isinstance(t.ops[0], ast.Eq):
                node.test = ast.Call(ast.Name("_grpo_eq", ast.Load()), [t.left, t.comparators[0]], [])
            return node

    def prep(src, name):
        tree = Rewrite().visit(ast.parse(src, name))
        return compile(ast.fix_missing_locations(tree), name, "exec")

    # units: (is_test, label, code or None, compile error)
    units, pre, param = [], None, None
    if job["mode"] == "asserts":
        for i, t in enumerate(job["tests"]):
            try:
                units.append((True, t, prep(t, "test_%d" % i), None))
            except BaseException as e:
                units.append((True, t, None, "test does not compile: " + describe(e)))
    else:
        entry = job["entry_point"]
        try:
            tree = ast.parse(job["test"], "test")
            check = None
            rest = []
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name == "check":
                    check = node
                elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                        isinstance(node.value.func, ast.Name) and node.value.func.id == "check":
                    pass  # a trailing check(...) call: we call it ourselves, assert by assert
                else:
                    rest.append(node)
            pre = compile(ast.Module(rest, []), "test", "exec")
            # A statement of check() is a test when it holds an assert on something other
            # than a constant (HumanEval's `assert True, "..."` lines are not tests).
            def is_test(stmt):
                return any(isinstance(n, ast.Assert) and not isinstance(n.test, ast.Constant)
                           for n in ast.walk(stmt))
            if check is not None and check.args.args and any(is_test(s) for s in check.body):
                param = check.args.args[0].arg
                for stmt in check.body:
                    t = is_test(stmt)
                    label = ast.unparse(stmt) if t else ""
                    mod = Rewrite().visit(ast.Module([stmt], []))
                    units.append((t, label, compile(ast.fix_missing_locations(mod), "test", "exec"), None))
            else:
                exec_check = ast.parse("check(%s)" % entry)
                tree.body.append(exec_check.body[0])
                pre = None
                units.append((True, "check(%s)" % entry, compile(tree, "test", "exec"), None))
        except BaseException as e:
            units = [(True, "test code", None, "test code does not compile: " + describe(e))]
    tests = [u for u in units if u[0]]
    report(b"N", _len(tests))

    def fail_all(msg):
        i = 0
        while i < _len(tests):
            report(b"T", i, 0, msg)
            i += 1
        report(b"D")
        _exit(0)

    try:
        code = compile(job["code"], "solution.py", "exec")
    except BaseException as e:
        fail_all("solution does not compile: " + describe(e))
    g = {"__name__": "__main__", "__builtins__": __builtins__}
    del job["nonce"]
    try:
        _exec(code, g)
    except _BE as e:
        fail_all("solution raised %s before the tests" % describe(e))
    try:
        if job.get("setup"):
            _exec(job["setup"], g)
        if pre is not None:
            _exec(pre, g)
    except _BE as e:
        fail_all("test setup raised " + describe(e))
    if param is not None:
        if job["entry_point"] not in g:
            fail_all("entry point %s is not defined" % job["entry_point"])
        g[param] = g[job["entry_point"]]
    # A per-test time limit, so that one looping test does not take the later ones with it.
    # Set after the solution ran (it cannot have replaced the handler by then); a solution
    # that blocks SIGALRM or swallows the exception only meets the sandbox's wall clock.
    per = job.get("test_s") or 0

    class TestTimeout(_BE):
        pass

    def on_alarm(signum, frame):
        raise TestTimeout()

    if per > 0:
        _signal(_ALRM, on_alarm)
    i = 0
    for is_test, label, code, cerr in units:
        g["_grpo_eq"] = grpo_eq
        ok, msg = 0, cerr
        try:
            try:
                if per > 0:
                    _setitimer(_REAL, per)
                if code is not None:
                    _exec(code, g)
                    ok, msg = 1, label
            finally:
                if per > 0:
                    _setitimer(_REAL, 0)
        except _BE as e:
            why = ("timed out after %g s" % per) if _isinstance(e, TestTimeout) else describe(e)
            ok, msg = 0, label[:200] + "\x00" + why[:200]
        if is_test:
            report(b"T", i, ok, msg)
            i += 1
    report(b"D")
    _exit(0)  # do not wait for threads the solution left behind


_grpo_main()
