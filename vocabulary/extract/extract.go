package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------------------
// Model

type fileInfo struct {
	rel     string // path relative to the module root, slash separated
	f       *ast.File
	src     []byte
	imports map[string]string // local name -> import path
	pkg     *pkgInfo
}

type constDef struct {
	expr ast.Expr
	file *fileInfo
}

type pkgInfo struct {
	path   string // import path
	files  []*fileInfo
	consts map[string]constDef // package-level const and var initialisers
	scan   bool                // look for recorder calls (false: constants only)
}

// alt is one possible value of a string expression.
//
//	lit:   a plain literal (no format verbs intended)
//	unres: contains an unresolved part rendered as {{expr}}
//
// Parameters of the enclosing function are rendered as markers (see mark) and
// replaced at call sites of that function.
type alt struct {
	s     string
	lit   bool
	unres bool
}

func mark(i int) string { return fmt.Sprintf("\x00P%d\x00", i) }

// A marker may carry the format verb it was substituted for ("\x00P3%s\x00"),
// so that the verb can be restored when the parameter stays unknown.
var markRE = regexp.MustCompile("\x00P([0-9]+)(%[a-zA-Z])?\x00")

func isWholeMark(s string) bool {
	m := markRE.FindStringIndex(s)
	return m != nil && m[0] == 0 && m[1] == len(s)
}

func hasMark(s string) bool { return strings.Contains(s, "\x00P") }

type fnCtx struct {
	file     *fileInfo
	decl     *ast.FuncDecl // nil when resolving package-level constants
	params   map[string]int
	nparams  int
	variadic bool
}

// site is one recorder call, possibly inside a wrapper function (then some
// values contain parameter markers).
type site struct {
	typ, reason, msg, obj []alt
	fmtParam, argsParam   int // wrapper passes its params through as format/args
	file                  *fileInfo
	line                  int
	fn                    string
	kind                  string // forced involvedKind (struct literal events)
}

type wrapper struct {
	key      string
	name     string
	pkg      string
	recv     bool
	nparams  int
	variadic bool
	sites    []site
	calls    int
}

type extractor struct {
	fset     *token.FileSet
	module   string // import path of the scanned module
	label    string // module@version used in the source column
	pkgs     map[string]*pkgInfo
	wrappers map[string]*wrapper   // key -> wrapper
	byName   map[string][]*wrapper // name -> wrappers
	events   []site
	diags    []string
	funcs    map[string]funcDef
	// functions passed as values: callee func key -> param name -> wrappers
	paramAlias map[string]map[string][]*wrapper
	allFuncs   map[string]funcDef
	structs    map[string]structSpec
}

// structSpec describes a composite literal that becomes an Event elsewhere,
// e.g. kubelet's lifecycle.PodAdmitResult (rejected pods are reported by
// Kubelet.rejectPod with the result's Reason and Message).
type structSpec struct {
	typ, typField, reasonField, msgField, kind string
}

func parseStructs(spec string) (map[string]structSpec, error) {
	out := map[string]structSpec{}
	if spec == "" {
		return out, nil
	}
	for _, item := range strings.Split(spec, ";") {
		kv := strings.SplitN(item, "=", 2)
		f := strings.Split(kv[len(kv)-1], ",")
		if len(kv) != 2 || len(f) != 4 {
			return nil, fmt.Errorf("bad -structs entry %q (Type=Warning|@Field,ReasonField,MessageField,Kind)", item)
		}
		ss := structSpec{reasonField: f[1], msgField: f[2], kind: f[3]}
		if strings.HasPrefix(f[0], "@") {
			ss.typField = f[0][1:]
		} else {
			ss.typ = f[0]
		}
		out[kv[0]] = ss
	}
	return out, nil
}

func (x *extractor) structSite(cl *ast.CompositeLit, c *fnCtx, d *ast.FuncDecl) (site, bool) {
	var name string
	switch t := cl.Type.(type) {
	case *ast.Ident:
		name = t.Name
	case *ast.SelectorExpr:
		name = t.Sel.Name
	default:
		return site{}, false
	}
	spec, ok := x.structs[name]
	if !ok {
		return site{}, false
	}
	fields := map[string]ast.Expr{}
	for _, el := range cl.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				fields[id.Name] = kv.Value
			}
		}
	}
	if a, ok := fields["Admit"].(*ast.Ident); ok && a.Name == "true" {
		return site{}, false
	}
	r, ok := fields[spec.reasonField]
	if !ok {
		return site{}, false
	}
	s := site{file: c.file, line: x.fset.Position(cl.Pos()).Line, fn: d.Name.Name, fmtParam: -1, argsParam: -1, kind: spec.kind}
	s.reason = x.resolve(r, c, 0)
	if m, ok := fields[spec.msgField]; ok {
		s.msg = x.resolve(m, c, 0)
	} else {
		s.msg = []alt{{s: ""}}
	}
	if spec.typField != "" {
		if t, ok := fields[spec.typField]; ok {
			s.typ = x.resolve(t, c, 0)
		} else {
			s.typ = []alt{{s: "{{unset}}", unres: true}}
		}
	} else {
		s.typ = []alt{{s: spec.typ, lit: true}}
	}
	s.obj = []alt{{s: spec.kind}}
	return s, true
}

var rootNames = map[string]bool{"Event": true, "Eventf": true, "AnnotatedEventf": true, "PastEventf": true}

// ---------------------------------------------------------------------------
// Loading

func skipDir(name string) bool {
	switch name {
	case "vendor", "testdata", "testing", "fake", "testutil", "e2e", "e2e_node", "integration", "third_party", "hack", "_output":
		return true
	}
	return strings.HasPrefix(name, ".")
}

func (x *extractor) load(root, modPath string, dirs []string, scan bool) error {
	for _, d := range dirs {
		start := filepath.Join(root, d)
		if _, err := os.Stat(start); err != nil {
			continue
		}
		err := filepath.WalkDir(start, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() {
				if p != start && skipDir(de.Name()) {
					return filepath.SkipDir
				}
				return nil
			}
			n := de.Name()
			if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				return nil
			}
			if !scan && (strings.HasPrefix(n, "zz_generated") || strings.HasPrefix(n, "generated.") || strings.HasSuffix(n, "_generated.go")) {
				return nil
			}
			return x.loadFile(root, modPath, p, scan)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) loadFile(root, modPath, p string, scan bool) error {
	src, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	mode := parser.SkipObjectResolution
	f, err := parser.ParseFile(x.fset, p, src, mode)
	if err != nil {
		x.diags = append(x.diags, fmt.Sprintf("parse-error\t%s\t%v", p, err))
		return nil
	}
	rel, _ := filepath.Rel(root, p)
	rel = filepath.ToSlash(rel)
	dir := filepath.ToSlash(filepath.Dir(rel))
	ip := modPath
	if dir != "." {
		ip = modPath + "/" + dir
	}
	pk := x.pkgs[ip]
	if pk == nil {
		pk = &pkgInfo{path: ip, consts: map[string]constDef{}, scan: scan}
		x.pkgs[ip] = pk
	}
	fi := &fileInfo{rel: rel, f: f, src: src, imports: map[string]string{}, pkg: pk}
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		name := filepath.Base(path)
		if im.Name != nil {
			name = im.Name.Name
		} else if regexp.MustCompile(`^v[0-9]+$`).MatchString(name) {
			// k8s.io/api/core/v1 is imported as v1 unless aliased.
		}
		fi.imports[name] = path
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || (g.Tok != token.CONST && g.Tok != token.VAR) {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) && len(vs.Names) == len(vs.Values) {
					pk.consts[n.Name] = constDef{vs.Values[i], fi}
				}
			}
		}
	}
	if scan {
		pk.files = append(pk.files, fi)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Resolution of string expressions

func (x *extractor) text(fi *fileInfo, n ast.Node) string {
	a := x.fset.Position(n.Pos()).Offset
	b := x.fset.Position(n.End()).Offset
	if fi == nil || a < 0 || b > len(fi.src) || a > b {
		return "?"
	}
	return strings.Join(strings.Fields(string(fi.src[a:b])), " ")
}

func (x *extractor) unres(c *fnCtx, e ast.Expr) []alt {
	var fi *fileInfo
	if c != nil {
		fi = c.file
	}
	return []alt{{s: "{{" + x.text(fi, e) + "}}", unres: true}}
}

func isErrName(n string) bool {
	if n == "" || n[0] < 'a' || n[0] > 'z' {
		return false // exported package-level names (constants)
	}
	return n == "err" || n == "e" || n == "error" || strings.HasSuffix(n, "Err") || strings.HasSuffix(n, "Error")
}

const maxAlts = 24

func (x *extractor) resolve(e ast.Expr, c *fnCtx, depth int) []alt {
	if depth > 10 {
		return x.unres(c, e)
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			if err == nil {
				return []alt{{s: s, lit: true}}
			}
		}
		return []alt{{s: e.Value, lit: true}}
	case *ast.ParenExpr:
		return x.resolve(e.X, c, depth+1)
	case *ast.StarExpr:
		return x.resolve(e.X, c, depth+1)
	case *ast.Ident:
		if c != nil && c.params != nil {
			if i, ok := c.params[e.Name]; ok {
				return []alt{{s: mark(i)}}
			}
		}
		if c != nil && c.decl != nil {
			rhs := x.localAssigns(c.decl, e.Name, e.Pos())
			if isErrName(e.Name) {
				// errors: follow only errors built right here (fmt.Errorf,
				// errors.New, the volume message helpers), and only when
				// every reaching assignment is one of those.
				complete := true
				for i, r := range rhs {
					if r == nil || !(isVolumeMsgHelper(r) || x.isErrCtor(r, c)) {
						rhs[i] = nil
						complete = false
					}
				}
				if !complete {
					for i, r := range rhs {
						if r != nil && !isVolumeMsgHelper(r) {
							rhs[i] = nil
						}
					}
				}
				if len(rhs) == 0 || allNil(rhs) {
					return x.unres(c, e)
				}
			}
			if len(rhs) > 0 {
				var out []alt
				for _, r := range rhs {
					if r == nil {
						out = append(out, x.unres(c, e)...)
						continue
					}
					out = append(out, x.resolve(r, c, depth+1)...)
				}
				out = dedupAlts(out)
				if len(out) > 1 {
					// a zero-value initialisation overwritten later
					var ne []alt
					for _, a := range out {
						if !(a.lit && a.s == "") {
							ne = append(ne, a)
						}
					}
					out = ne
				}
				return out
			}
		}
		if c != nil {
			if cd, ok := c.file.pkg.consts[e.Name]; ok {
				return x.resolve(cd.expr, &fnCtx{file: cd.file}, depth+1)
			}
		}
		return x.unres(c, e)
	case *ast.SelectorExpr:
		switch e.Sel.Name {
		case "EventTypeWarning":
			return []alt{{s: "Warning", lit: true}}
		case "EventTypeNormal":
			return []alt{{s: "Normal", lit: true}}
		}
		if id, ok := e.X.(*ast.Ident); ok && c != nil {
			if path, ok := c.file.imports[id.Name]; ok {
				if p := x.pkgs[path]; p != nil {
					if cd, ok := p.consts[e.Sel.Name]; ok {
						return x.resolve(cd.expr, &fnCtx{file: cd.file}, depth+1)
					}
				}
			}
		}
		return x.unres(c, e)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return x.unres(c, e)
		}
		l := x.resolve(e.X, c, depth+1)
		r := x.resolve(e.Y, c, depth+1)
		var out []alt
		for _, a := range l {
			for _, b := range r {
				out = append(out, alt{s: a.s + b.s, lit: a.lit && b.lit, unres: a.unres || b.unres})
			}
		}
		if len(out) > maxAlts {
			return x.unres(c, e)
		}
		return out
	case *ast.CallExpr:
		switch fn := e.Fun.(type) {
		case *ast.SelectorExpr:
			if id, ok := fn.X.(*ast.Ident); ok && c != nil && c.file.imports[id.Name] == "fmt" {
				switch fn.Sel.Name {
				case "Sprintf", "Errorf":
					if len(e.Args) > 0 {
						return x.substFormat(x.resolve(e.Args[0], c, depth+1), e.Args[1:], e.Ellipsis.IsValid(), c, depth+1)
					}
				case "Sprint":
					if len(e.Args) == 1 {
						return x.resolve(e.Args[0], c, depth+1)
					}
				}
			}
			if id, ok := fn.X.(*ast.Ident); ok && c != nil && c.file.imports[id.Name] == "errors" && fn.Sel.Name == "New" && len(e.Args) == 1 {
				return x.resolve(e.Args[0], c, depth+1)
			}
			if fn.Sel.Name == "Error" && len(e.Args) == 0 {
				if c != nil && c.decl != nil && x.text(c.file, fn.X) == "(*err)" {
					if r := x.volumeOpErrors(c, depth); len(r) > 0 {
						return r
					}
				}
				r := x.resolve(fn.X, c, depth+1)
				return r
			}
			if arg := titleArg(e); arg != nil {
				// cases.Title(language.English).String(x)
				return x.resolve(&ast.CallExpr{Fun: &ast.SelectorExpr{X: ast.NewIdent("strings"), Sel: ast.NewIdent("Title")}, Args: []ast.Expr{arg}, Lparen: e.Lparen, Rparen: e.Rparen}, c, depth)
			}
			if id, ok := fn.X.(*ast.Ident); ok && c != nil && (c.file.imports[id.Name] == "strings" || id.Name == "strings") && len(e.Args) > 0 {
				switch fn.Sel.Name {
				case "Replace", "ReplaceAll", "TrimSpace":
					// container IDs replaced by names etc.: keep the format
					return x.resolve(e.Args[0], c, depth+1)
				case "Title", "ToUpper", "ToLower":
					var out []alt
					for _, a := range x.resolve(e.Args[0], c, depth+1) {
						if fn.Sel.Name == "Title" && isWholeMark(a.s) {
							// applied at the call site (see instantiate)
							sm := markRE.FindStringSubmatch(a.s)
							a.s = "\x00P" + sm[1] + "%T\x00"
						} else if a.lit {
							switch fn.Sel.Name {
							case "Title":
								a.s = titleCase(a.s)
							case "ToUpper":
								a.s = strings.ToUpper(a.s)
							default:
								a.s = strings.ToLower(a.s)
							}
						}
						out = append(out, a)
					}
					return out
				}
			}
			if isVolumeMsgHelper(e) {
				return x.volumeMsg(e, c, depth)
			}
		case *ast.Ident:
			if fn.Name == "string" && len(e.Args) == 1 {
				return x.resolve(e.Args[0], c, depth+1)
			}
		}
		if r := x.resolveReturn(e, c, depth); r != nil {
			return r
		}
		return x.unres(c, e)
	}
	return x.unres(c, e)
}

func dedupAlts(in []alt) []alt {
	seen := map[string]bool{}
	var out []alt
	for _, a := range in {
		if seen[a.s] {
			continue
		}
		seen[a.s] = true
		out = append(out, a)
	}
	return out
}

// localAssigns returns the right-hand sides assigned to name inside decl
// before pos. A nil entry means an assignment that cannot be resolved
// (multi-value, +=, range...).
func (x *extractor) localAssigns(decl *ast.FuncDecl, name string, pos token.Pos) []ast.Expr {
	if decl.Body == nil {
		return nil
	}
	type cand struct {
		e   ast.Expr
		pos token.Pos
	}
	var cands []cand
	// Statements that always run before pos: direct children (preceding
	// pos) of the blocks and case clauses enclosing pos.
	dominating := map[ast.Node]bool{}
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		if n == nil || n.Pos() > pos || n.End() <= pos {
			return false
		}
		var list []ast.Stmt
		switch b := n.(type) {
		case *ast.BlockStmt:
			list = b.List
		case *ast.CaseClause:
			list = b.Body
		case *ast.CommClause:
			list = b.Body
		case *ast.FuncLit:
			return false
		}
		for _, st := range list {
			if st.End() <= pos {
				dominating[st] = true
				if ds, ok := st.(*ast.DeclStmt); ok {
					if g, ok := ds.Decl.(*ast.GenDecl); ok {
						for _, sp := range g.Specs {
							dominating[sp] = true
						}
					}
				}
			}
		}
		return true
	})
	var killAt token.Pos
	out := []ast.Expr{}
	add := func(e ast.Expr, n ast.Node) {
		cands = append(cands, cand{e, n.Pos()})
		if dominating[n] && n.Pos() > killAt {
			killAt = n.Pos()
		}
	}
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		if n == nil || n.Pos() >= pos {
			return n != nil && n.Pos() < pos
		}
		if n.End() > pos {
			if _, isFn := n.(*ast.FuncLit); !isFn {
				if _, isAs := n.(*ast.AssignStmt); isAs {
					return true
				}
				if _, isVs := n.(*ast.ValueSpec); isVs {
					return true
				}
			}
		}
		switch s := n.(type) {
		case *ast.AssignStmt:
			for i, l := range s.Lhs {
				id, ok := l.(*ast.Ident)
				if !ok || id.Name != name {
					continue
				}
				if s.Tok == token.ADD_ASSIGN && len(s.Lhs) == 1 && len(s.Rhs) == 1 {
					// x += y  ==  x = x + y (x resolved before this statement)
					add(&ast.BinaryExpr{X: id, OpPos: s.Pos(), Op: token.ADD, Y: s.Rhs[0]}, s)
				} else if s.Tok != token.DEFINE && s.Tok != token.ASSIGN {
					add(nil, s)
				} else if len(s.Lhs) == len(s.Rhs) {
					add(s.Rhs[i], s)
				} else if i == 0 && len(s.Rhs) == 1 && isVolumeMsgHelper(s.Rhs[0]) {
					// simpleMsg, detailedMsg := volume.GenerateMsg(...)
					add(s.Rhs[0], s)
				} else {
					add(nil, s)
				}
			}
		case *ast.ValueSpec:
			for i, id := range s.Names {
				if id.Name != name {
					continue
				}
				if len(s.Values) == len(s.Names) {
					add(s.Values[i], s)
				} else if len(s.Values) > 0 {
					add(nil, s)
				} else if dominating[s] && s.Pos() > killAt {
					// "var x T": a new variable, earlier ones are other scopes
					killAt = s.Pos()
				}
			}
		case *ast.RangeStmt:
			for _, l := range []ast.Expr{s.Key, s.Value} {
				if id, ok := l.(*ast.Ident); ok && id.Name == name {
					add(nil, s)
				}
			}
		case *ast.FuncLit:
			for _, fl := range s.Type.Params.List {
				for _, id := range fl.Names {
					if id.Name == name {
						add(nil, s)
					}
				}
			}
		}
		return true
	})
	for _, c := range cands {
		if c.pos >= killAt {
			out = append(out, c.e)
		}
	}
	return out
}

var verbRE = regexp.MustCompile(`%[-+# 0]*(\*|[0-9]+)?(\.(\*|[0-9]+))?[a-zA-Z%]`)

// substFormat inlines resolved arguments into a format string: arguments that
// resolve to constants or to other format strings replace their %s/%v/%q verb.
func (x *extractor) substFormat(fmts []alt, args []ast.Expr, ellipsis bool, c *fnCtx, depth int) []alt {
	var out []alt
	for _, f := range fmts {
		if f.unres || hasMark(f.s) {
			out = append(out, alt{s: f.s, unres: f.unres})
			continue
		}
		if (f.s == "%s" || f.s == "%v") && len(args) == 1 && !ellipsis {
			out = append(out, x.resolve(args[0], c, depth+1)...)
			continue
		}
		cur := []string{""}
		last := 0
		argi := 0
		for _, loc := range verbRE.FindAllStringIndex(f.s, -1) {
			verb := f.s[loc[0]:loc[1]]
			lit := f.s[last:loc[0]]
			last = loc[1]
			for i := range cur {
				cur[i] += lit
			}
			if verb == "%%" {
				for i := range cur {
					cur[i] += verb
				}
				continue
			}
			j := argi
			argi++
			var repl []string
			if j < len(args) && !(ellipsis && j == len(args)-1) && (verb == "%s" || verb == "%v" || verb == "%q") {
				as := x.resolve(args[j], c, depth+1)
				if call, isCall := args[j].(*ast.CallExpr); isCall && !x.isFmtCall(call, c) {
					as = []alt{{s: verb, unres: true}}
				}
				ok := len(as)*len(cur) <= maxAlts
				for _, a := range as {
					if isWholeMark(a.s) && (verb == "%s" || verb == "%v" || verb == "%q") {
						sm := markRE.FindStringSubmatch(a.s)
						tag := verb
						if sm[2] == "%T" {
							tag = "%T"
						}
						repl = append(repl, "\x00P"+sm[1]+tag+"\x00")
						continue
					}
					if a.unres || (verb == "%q" && (!a.lit || hasMark(a.s))) {
						ok = false
						break
					}
					v := a.s
					if verb == "%q" {
						v = strconv.Quote(v)
					}
					if a.lit {
						v = strings.ReplaceAll(v, "%", "%%")
					}
					repl = append(repl, v)
				}
				if !ok {
					repl = nil
				}
			}
			if repl == nil {
				repl = []string{verb}
			}
			var next []string
			for _, cs := range cur {
				for _, r := range repl {
					next = append(next, cs+r)
				}
			}
			cur = next
		}
		for _, cs := range cur {
			out = append(out, alt{s: cs + f.s[last:]})
		}
	}
	return dedupAlts(out)
}

// ---------------------------------------------------------------------------
// Call analysis

func (x *extractor) typeish(e ast.Expr, c *fnCtx) bool {
	for _, a := range x.resolve(e, c, 0) {
		if a.s == "Warning" || a.s == "Normal" {
			return true
		}
	}
	t := strings.ToLower(x.text(c.file, e))
	return strings.Contains(t, "eventtype") || t == "etype" || strings.HasSuffix(t, "type")
}

type form struct {
	obj, typ, reason, msg int // arg indexes (-1: none)
	f                     bool
}

func (x *extractor) rootForm(name string, args []ast.Expr, c *fnCtx) (form, bool) {
	n := len(args)
	ti := func(i int) bool { return i < n && x.typeish(args[i], c) }
	switch name {
	case "Event":
		if n == 4 && ti(1) {
			return form{0, 1, 2, 3, false}, true
		}
		if n == 3 && ti(0) {
			return form{-1, 0, 1, 2, false}, true
		}
	case "Eventf":
		if n >= 4 && ti(1) {
			return form{0, 1, 2, 3, true}, true
		}
		if n >= 6 && ti(2) {
			return form{0, 2, 3, 5, true}, true
		}
		if n >= 3 && ti(0) {
			return form{-1, 0, 1, 2, true}, true
		}
	case "AnnotatedEventf", "PastEventf":
		if n >= 5 && ti(2) {
			return form{0, 2, 3, 4, true}, true
		}
	}
	return form{}, false
}

func (x *extractor) paramIndex(e ast.Expr, c *fnCtx) int {
	if id, ok := e.(*ast.Ident); ok && c.params != nil {
		if i, ok := c.params[id.Name]; ok {
			return i
		}
	}
	return -1
}

func (x *extractor) objAlts(e ast.Expr, c *fnCtx) []alt {
	if e == nil {
		return []alt{{s: "statusObject"}}
	}
	if i := x.paramIndex(e, c); i >= 0 {
		return []alt{{s: mark(i)}}
	}
	return []alt{{s: x.text(c.file, e)}}
}

// instantiate replaces parameter markers in vals by the call's arguments.
func (x *extractor) instantiate(vals []alt, args []ast.Expr, c *fnCtx, raw bool) []alt {
	var out []alt
	for _, v := range vals {
		if !hasMark(v.s) {
			out = append(out, v)
			continue
		}
		cur := []alt{{s: "", lit: v.lit}}
		last := 0
		for _, m := range markRE.FindAllStringSubmatchIndex(v.s, -1) {
			pre := v.s[last:m[0]]
			last = m[1]
			i, _ := strconv.Atoi(v.s[m[2]:m[3]])
			verb := ""
			if m[4] >= 0 {
				verb = v.s[m[4]:m[5]]
			}
			var repl []alt
			if i < len(args) {
				if raw {
					repl = x.objAlts(args[i], c)
				} else {
					repl = x.resolve(args[i], c, 0)
				}
			} else {
				repl = []alt{{s: "{{?}}", unres: true}}
			}
			if verb != "" {
				var vr []alt
				for _, r := range repl {
					switch {
					case isWholeMark(r.s):
						sm := markRE.FindStringSubmatch(r.s)
						vr = append(vr, alt{s: "\x00P" + sm[1] + verb + "\x00"})
					case verb == "%T" && r.lit:
						vr = append(vr, alt{s: strings.ReplaceAll(titleCase(r.s), "%", "%%")})
					case verb == "%T":
						vr = append(vr, alt{s: "%s"})
					case r.unres || (verb == "%q" && (!r.lit || hasMark(r.s))):
						vr = append(vr, alt{s: verb})
					case verb == "%q":
						vr = append(vr, alt{s: strings.ReplaceAll(strconv.Quote(r.s), "%", "%%")})
					case r.lit:
						vr = append(vr, alt{s: strings.ReplaceAll(r.s, "%", "%%")})
					default:
						vr = append(vr, alt{s: r.s})
					}
				}
				repl = dedupAlts(vr)
			}
			var next []alt
			for _, cs := range cur {
				for _, r := range repl {
					next = append(next, alt{s: cs.s + pre + r.s, lit: cs.lit && r.lit, unres: cs.unres || r.unres})
				}
			}
			cur = next
		}
		for _, cs := range cur {
			cs.s += v.s[last:]
			out = append(out, cs)
		}
	}
	if len(out) > maxAlts*4 {
		out = out[:maxAlts*4]
	}
	return dedupAlts(out)
}

func anyMarkSites(ss []site) bool {
	for _, s := range ss {
		if anyMark(s.reason) {
			return true
		}
	}
	return false
}

func nameMarks(as []alt, pname map[int]string, braces bool) []alt {
	var out []alt
	for _, a := range as {
		if hasMark(a.s) {
			a.s = markRE.ReplaceAllStringFunc(a.s, func(m string) string {
				sm := markRE.FindStringSubmatch(m)
				i, _ := strconv.Atoi(sm[1])
				if sm[2] == "%T" {
					return "%s"
				}
				if sm[2] != "" {
					return sm[2]
				}
				if braces {
					a.unres = true
					return "{{" + pname[i] + "}}"
				}
				return pname[i]
			})
		}
		out = append(out, a)
	}
	return out
}

func anyMark(vs ...[]alt) bool {
	for _, v := range vs {
		for _, a := range v {
			if hasMark(a.s) {
				return true
			}
		}
	}
	return false
}

func (x *extractor) funcKey(fi *fileInfo, d *ast.FuncDecl) (key string, recv bool) {
	r := ""
	if d.Recv != nil && len(d.Recv.List) > 0 {
		recv = true
		r = x.text(fi, d.Recv.List[0].Type) + "."
	}
	return fi.pkg.path + "." + r + d.Name.Name, recv
}

// processFunc analyses all calls in one function. It returns true when a new
// wrapper was registered.
func (x *extractor) processFunc(fi *fileInfo, d *ast.FuncDecl) bool {
	c := newFnCtx(fi, d)
	var found []site
	newWrapper := false
	ast.Inspect(d.Body, func(n ast.Node) bool {
		if cl, ok := n.(*ast.CompositeLit); ok && len(x.structs) > 0 {
			if s, ok := x.structSite(cl, c, d); ok {
				found = append(found, s)
			}
			return true
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		found = append(found, x.analyseCall(call, c, d)...)
		if x.notePassedWrappers(call, c) {
			newWrapper = true
		}
		return true
	})
	var emit []site
	var wsites []site
	pname := map[int]string{}
	for n, i := range c.params {
		pname[i] = n
	}
	for _, s := range found {
		whole := false
		for _, m := range s.msg {
			if isWholeMark(m.s) {
				whole = true
			}
		}
		if s.kind == "" && (anyMark(s.typ, s.reason) || s.fmtParam >= 0 || whole) {
			wsites = append(wsites, s)
			continue
		}
		// Parameters used only inside the message or as the object: emit
		// here, showing the parameter by name.
		s.msg = nameMarks(s.msg, pname, true)
		s.obj = nameMarks(s.obj, pname, false)
		s.reason = nameMarks(s.reason, pname, true)
		s.typ = nameMarks(s.typ, pname, true)
		emit = append(emit, s)
	}
	if len(wsites) > 0 {
		key, recv := x.funcKey(fi, d)
		if _, ok := x.wrappers[key]; !ok && !rootNames[d.Name.Name] {
			w := &wrapper{key: key, name: d.Name.Name, pkg: fi.pkg.path, recv: recv, nparams: c.nparams, variadic: c.variadic, sites: wsites}
			x.wrappers[key] = w
			x.byName[w.name] = append(x.byName[w.name], w)
			newWrapper = true
		} else if ok {
			x.wrappers[key].sites = wsites
		}
		if rootNames[d.Name.Name] {
			// a recorder implementation forwarding to another recorder
			// (e.g. kubelet's innerEventRecorder): nothing to emit.
		}
	}
	x.events = append(x.events, emit...)
	return newWrapper
}

func (x *extractor) calleeKey(call *ast.CallExpr, c *fnCtx) string {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return c.file.pkg.path + "." + fn.Name
	case *ast.SelectorExpr:
		if id, ok := fn.X.(*ast.Ident); ok {
			if p, ok := c.file.imports[id.Name]; ok {
				return p + "." + fn.Sel.Name
			}
		}
	}
	return ""
}

// wrappersNamed returns the wrappers an expression used as a function value
// (kl.recordEvent, recordEvent) refers to.
func (x *extractor) wrappersNamed(e ast.Expr, c *fnCtx) []*wrapper {
	var name string
	method := false
	switch v := e.(type) {
	case *ast.Ident:
		name = v.Name
	case *ast.SelectorExpr:
		name = v.Sel.Name
		method = true
		if id, ok := v.X.(*ast.Ident); ok {
			if _, ok := c.file.imports[id.Name]; ok {
				method = false
			}
		}
	default:
		return nil
	}
	var out []*wrapper
	for _, w := range x.byName[name] {
		if w.recv == method && w.pkg == c.file.pkg.path {
			out = append(out, w)
		}
	}
	return out
}

// notePassedWrappers records wrappers passed as arguments to a known
// package-level function, so that calls of that parameter inside the callee
// count as calls of the wrapper (kubelet nodestatus setters).
func (x *extractor) notePassedWrappers(call *ast.CallExpr, c *fnCtx) bool {
	key := x.calleeKey(call, c)
	fd, ok := x.allFuncs[key]
	if !ok {
		return false
	}
	fc := newFnCtx(fd.file, fd.decl)
	names := map[int]string{}
	for n, i := range fc.params {
		names[i] = n
	}
	grew := false
	for i, a := range call.Args {
		ws := x.wrappersNamed(a, c)
		if len(ws) == 0 || names[i] == "" {
			continue
		}
		m := x.paramAlias[key]
		if m == nil {
			m = map[string][]*wrapper{}
			x.paramAlias[key] = m
		}
		for _, w := range ws {
			dup := false
			for _, o := range m[names[i]] {
				if o == w {
					dup = true
				}
			}
			if !dup {
				m[names[i]] = append(m[names[i]], w)
				grew = true
			}
		}
	}
	return grew
}

func (x *extractor) matchWrappers(call *ast.CallExpr, c *fnCtx) []*wrapper {
	if id, ok := call.Fun.(*ast.Ident); ok && c.decl != nil && c.decl.Recv == nil {
		if _, isParam := c.params[id.Name]; isParam {
			return x.paramAlias[c.file.pkg.path+"."+c.decl.Name.Name][id.Name]
		}
	}
	var name string
	var pkgWant string
	method := false
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		name = fn.Name
		pkgWant = c.file.pkg.path
	case *ast.SelectorExpr:
		name = fn.Sel.Name
		if id, ok := fn.X.(*ast.Ident); ok {
			if p, ok := c.file.imports[id.Name]; ok {
				if _, local := c.params[id.Name]; !local {
					pkgWant = p
				}
			}
		}
		if pkgWant == "" {
			method = true
		}
	default:
		return nil
	}
	if rootNames[name] {
		return nil
	}
	cands := x.byName[name]
	var out, same []*wrapper
	for _, w := range cands {
		if w.recv != method {
			continue
		}
		if !method && w.pkg != pkgWant {
			continue
		}
		// Methods are matched by name only; accept another package's
		// method only when it takes the reason as a parameter.
		if method && w.pkg != c.file.pkg.path && !anyMarkSites(w.sites) {
			continue
		}
		n := len(call.Args)
		if w.variadic {
			if n < w.nparams-1 {
				continue
			}
		} else if n != w.nparams {
			continue
		}
		out = append(out, w)
		if w.pkg == c.file.pkg.path {
			same = append(same, w)
		}
	}
	if method && len(same) > 0 {
		return same
	}
	return out
}

func (x *extractor) analyseCall(call *ast.CallExpr, c *fnCtx, d *ast.FuncDecl) []site {
	line := x.fset.Position(call.Pos()).Line
	var name string
	switch fn := call.Fun.(type) {
	case *ast.SelectorExpr:
		name = fn.Sel.Name
	case *ast.Ident:
		name = fn.Name
	}
	if rootNames[name] {
		if _, ok := call.Fun.(*ast.SelectorExpr); !ok {
			return nil
		}
		fm, ok := x.rootForm(name, call.Args, c)
		if !ok {
			return nil
		}
		s := site{file: c.file, line: line, fn: d.Name.Name, fmtParam: -1, argsParam: -1}
		s.typ = x.resolve(call.Args[fm.typ], c, 0)
		s.reason = x.resolve(call.Args[fm.reason], c, 0)
		var objE ast.Expr
		if fm.obj >= 0 {
			objE = call.Args[fm.obj]
		}
		s.obj = x.objAlts(objE, c)
		if fm.f {
			rest := call.Args[fm.msg+1:]
			ell := call.Ellipsis.IsValid()
			if pi := x.paramIndex(call.Args[fm.msg], c); pi >= 0 && ell && len(rest) == 1 {
				if ai := x.paramIndex(rest[0], c); ai >= 0 {
					s.fmtParam, s.argsParam = pi, ai
				}
			}
			s.msg = x.substFormat(x.resolve(call.Args[fm.msg], c, 0), rest, ell, c, 0)
		} else {
			s.msg = x.resolve(call.Args[fm.msg], c, 0)
		}
		return []site{s}
	}
	var out []site
	for _, w := range x.matchWrappers(call, c) {
		w.calls++
		for _, ws := range w.sites {
			s := site{file: c.file, line: line, fn: d.Name.Name, fmtParam: -1, argsParam: -1}
			s.typ = x.instantiate(ws.typ, call.Args, c, false)
			s.reason = x.instantiate(ws.reason, call.Args, c, false)
			s.obj = x.instantiate(ws.obj, call.Args, c, true)
			if ws.fmtParam >= 0 && ws.argsParam >= 0 && ws.fmtParam < len(call.Args) {
				rest := []ast.Expr{}
				if ws.argsParam < len(call.Args) {
					rest = call.Args[ws.argsParam:]
				}
				ell := call.Ellipsis.IsValid()
				if pi := x.paramIndex(call.Args[ws.fmtParam], c); pi >= 0 && ell && len(rest) == 1 {
					if ai := x.paramIndex(rest[0], c); ai >= 0 {
						s.fmtParam, s.argsParam = pi, ai
					}
				}
				s.msg = x.substFormat(x.resolve(call.Args[ws.fmtParam], c, 0), rest, ell, c, 0)
			} else {
				s.msg = x.instantiate(ws.msg, call.Args, c, false)
			}
			out = append(out, s)
		}
	}
	return out
}

func (x *extractor) run() {
	var files []*fileInfo
	for _, p := range x.pkgs {
		if p.scan {
			files = append(files, p.files...)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	x.indexFuncs()
	for pass := 0; pass < 8; pass++ {
		x.events = nil
		for _, w := range x.wrappers {
			w.calls = 0
		}
		grew := false
		for _, fi := range files {
			for _, d := range fi.f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				if x.processFunc(fi, fd) {
					grew = true
				}
			}
		}
		if !grew {
			break
		}
	}
	for _, w := range x.wrappers {
		if w.calls == 0 {
			for _, s := range w.sites {
				x.diags = append(x.diags, fmt.Sprintf("wrapper-without-callers\t%s/%s:%d\t%s\treason=%s msg=%s", x.label, s.file.rel, s.line, w.key, altStr(s.reason), altStr(s.msg)))
			}
		}
	}
}

func altStr(as []alt) string {
	var ss []string
	for _, a := range as {
		ss = append(ss, markRE.ReplaceAllString(a.s, "<param$1>"))
	}
	return strings.Join(ss, " | ")
}

// ---------------------------------------------------------------------------
// Components and kinds

type mapping struct {
	module, prefix, fn, component, kind string
}

func readMappings(path, module string) ([]mapping, error) {
	_, recs, err := readTSV(path)
	if err != nil {
		return nil, err
	}
	var out []mapping
	for _, r := range recs {
		if len(r) < 4 || r[0] != module {
			continue
		}
		m := mapping{module: r[0], prefix: r[1], component: r[2], kind: r[3]}
		if i := strings.Index(m.prefix, "#"); i >= 0 {
			m.prefix, m.fn = m.prefix[:i], m.prefix[i+1:]
		}
		out = append(out, m)
	}
	return out, nil
}

func pickMappings(ms []mapping, rel, fn string) []mapping {
	best := -1
	var out []mapping
	for _, m := range ms {
		if !strings.HasPrefix(rel, m.prefix) {
			continue
		}
		if m.fn != "" && m.fn != fn {
			continue
		}
		score := len(m.prefix)
		if m.fn != "" {
			score += 10000
		}
		if score > best {
			best, out = score, nil
		}
		if score == best {
			out = append(out, m)
		}
	}
	return out
}

var kindByName = map[string]string{
	"pod": "Pod", "pods": "Pod", "assumed": "Pod", "victim": "Pod", "scheduledpod": "Pod", "podtoevict": "Pod", "newpod": "Pod",
	"node": "Node", "noderef": "Node", "copynode": "Node",
	"hpa":   "HorizontalPodAutoscaler",
	"claim": "PersistentVolumeClaim", "newclaim": "PersistentVolumeClaim", "pvc": "PersistentVolumeClaim",
	"volume": "PersistentVolume", "newvol": "PersistentVolume", "pv": "PersistentVolume",
	"cronjob": "CronJob", "newcj": "CronJob", "cj": "CronJob",
	"job": "Job",
	"ds":  "DaemonSet",
	"set": "StatefulSet",
	"rs":  "ReplicaSet",
	"d":   "Deployment", "deployment": "Deployment",
	"service": "Service", "svc": "Service",
	"endpoints": "Endpoints", "newendpoints": "Endpoints",
	"pdb":          "PodDisruptionBudget",
	"ipaddress":    "IPAddress",
	"servicecidr":  "ServiceCIDR",
	"cidr":         "ServiceCIDR",
	"cm":           "ConfigMap",
	"statusobject": "ConfigMap",
	"podgroup":     "PodGroup",
	"buffer":       "CapacityBuffer",
}

var identRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

func kindOf(obj, def string) string {
	ids := identRE.FindAllString(obj, -1)
	if len(ids) > 0 {
		if k, ok := kindByName[strings.ToLower(ids[len(ids)-1])]; ok {
			return k
		}
	}
	return def
}

// ---------------------------------------------------------------------------

func runExtract(argv []string) error {
	fl := flag.NewFlagSet("extract", flag.ExitOnError)
	root := fl.String("root", "", "module root directory")
	module := fl.String("module", "", "module import path, e.g. k8s.io/kubernetes")
	label := fl.String("label", "", "module@version for the source column")
	dirs := fl.String("dirs", ".", "comma-separated subdirectories to scan")
	constMods := fl.String("consts", "", "comma-separated importpath=dir modules read for constants only")
	mapFile := fl.String("map", "", "components.tsv")
	diagFile := fl.String("diag", "", "write diagnostics (unresolved values) here")
	structs := fl.String("structs", "", "composite literals that become events: Type=Warning|@TypeField,ReasonField,MessageField,Kind;...")
	fl.Parse(argv)
	if *root == "" || *module == "" || *label == "" || *mapFile == "" {
		return fmt.Errorf("extract: -root, -module, -label and -map are required")
	}
	x := &extractor{fset: token.NewFileSet(), module: *module, label: *label, pkgs: map[string]*pkgInfo{},
		wrappers: map[string]*wrapper{}, byName: map[string][]*wrapper{}}
	var err error
	if x.structs, err = parseStructs(*structs); err != nil {
		return err
	}
	if *constMods != "" {
		for _, cm := range strings.Split(*constMods, ",") {
			kv := strings.SplitN(cm, "=", 2)
			if len(kv) != 2 {
				return fmt.Errorf("bad -consts entry %q", cm)
			}
			if err := x.load(kv[1], kv[0], []string{"."}, false); err != nil {
				return err
			}
		}
	}
	if err := x.load(*root, *module, strings.Split(*dirs, ","), true); err != nil {
		return err
	}
	maps, err := readMappings(*mapFile, *module)
	if err != nil {
		return err
	}
	x.run()

	var rows []Row
	for _, s := range x.events {
		where := fmt.Sprintf("%s:%d", s.file.rel, s.line)
		lwhere := *label + "/" + where
		ms := pickMappings(maps, s.file.rel, s.fn)
		if len(ms) == 0 {
			x.diags = append(x.diags, fmt.Sprintf("unmapped\t%s\t%s\treason=%s", lwhere, s.fn, altStr(s.reason)))
			continue
		}
		bad := false
		for _, r := range s.reason {
			if r.unres || hasMark(r.s) {
				x.diags = append(x.diags, fmt.Sprintf("unresolved-reason\t%s\t%s\treason=%s type=%s msg=%s", lwhere, s.fn, altStr(s.reason), altStr(s.typ), altStr(s.msg)))
				bad = true
				break
			}
		}
		for _, t := range s.typ {
			if t.s != "Warning" && t.s != "Normal" {
				x.diags = append(x.diags, fmt.Sprintf("unresolved-type\t%s\t%s\treason=%s type=%s msg=%s", lwhere, s.fn, altStr(s.reason), altStr(s.typ), altStr(s.msg)))
				bad = true
				break
			}
		}
		if bad {
			continue
		}
		for _, m := range s.msg {
			if m.unres {
				x.diags = append(x.diags, fmt.Sprintf("unresolved-message\t%s\t%s\treason=%s msg=%s", lwhere, s.fn, altStr(s.reason), altStr([]alt{m})))
			}
		}
		for _, m := range ms {
			if m.component == "-" {
				continue
			}
			for _, o := range s.obj {
				kind := kindOf(o.s, m.kind)
				if s.kind != "" {
					kind = s.kind
				}
				if kind == "" {
					kind = "?"
					x.diags = append(x.diags, fmt.Sprintf("unknown-kind\t%s\t%s\tobj=%s", lwhere, s.fn, o.s))
				}
				for _, t := range s.typ {
					for _, r := range s.reason {
						for _, msg := range s.msg {
							rows = append(rows, Row{
								Component: m.component,
								Reason:    esc(r.s),
								Type:      t.s,
								Kind:      kind,
								Message:   esc(msg.s),
								Source:    fmt.Sprintf("%s/%s", *label, where),
							})
						}
					}
				}
			}
		}
	}
	if *diagFile != "" {
		sort.Strings(x.diags)
		if err := os.WriteFile(*diagFile, []byte(strings.Join(x.diags, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return writeRows(os.Stdout, rows, false)
}

func titleCase(s string) string {
	b := []byte(s)
	prev := byte(' ')
	for i, ch := range b {
		if prev == ' ' && ch >= 'a' && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
		prev = ch
	}
	return string(b)
}

// Message helpers of pkg/volume/util/operationexecutor (VolumeToMount,
// VolumeToAttach, AttachedVolume, MountedVolume): GenerateMsg,
// GenerateError, GenerateErrorDetailed, GenerateMsgDetailed. They wrap a
// prefix as "<prefix> for volume %q <suffix>" (operation_executor.go).
func isVolumeMsgHelper(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	switch sel.Sel.Name {
	case "GenerateMsg", "GenerateError", "GenerateErrorDetailed", "GenerateMsgDetailed":
		return len(call.Args) == 2
	}
	return false
}

func volumeDetail(recv string) string {
	r := strings.ToLower(recv)
	switch {
	case strings.Contains(r, "detach") || strings.Contains(r, "attachedvolume"):
		return "(UniqueName: %q) on node %q"
	case strings.Contains(r, "attach"):
		return "(UniqueName: %q) from node %q"
	default:
		return "(UniqueName: %q) pod %q (UID: %q)"
	}
}

func (x *extractor) volumeMsg(e ast.Expr, c *fnCtx, depth int) []alt {
	call := e.(*ast.CallExpr)
	sel := call.Fun.(*ast.SelectorExpr)
	recv := sel.X
	p, second := call.Args[0], call.Args[1]
	isNil := false
	if id, ok := second.(*ast.Ident); ok && id.Name == "nil" {
		isNil = true
	}
	var f string
	var args []ast.Expr
	switch sel.Sel.Name {
	case "GenerateMsg":
		f, args = "%v for volume %q %v", []ast.Expr{p, recv, second}
	case "GenerateMsgDetailed":
		f, args = "%v for volume %q "+volumeDetail(x.text(c.file, recv))+" %v", []ast.Expr{p, recv, recv, recv, recv, second}
	case "GenerateError":
		if isNil {
			f, args = "%v for volume %q ", []ast.Expr{p, recv}
		} else {
			f, args = "%v for volume %q : %v", []ast.Expr{p, recv, second}
		}
	case "GenerateErrorDetailed":
		d := volumeDetail(x.text(c.file, recv))
		if isNil {
			f, args = "%v for volume %q "+d+" ", []ast.Expr{p, recv, recv, recv, recv}
		} else {
			f, args = "%v for volume %q "+d+" : %v", []ast.Expr{p, recv, recv, recv, recv, second}
		}
	}
	// only the prefix (first argument) is inlined
	out := x.substFormat([]alt{{s: f}}, args[:1], false, c, depth+1)
	if sel.Sel.Name == "GenerateMsg" {
		// inline a constant suffix too
		var res []alt
		for _, a := range out {
			sfx := x.resolve(second, c, depth+1)
			if len(sfx) == 1 && sfx[0].lit {
				a.s = strings.TrimSuffix(a.s, "%v") + strings.ReplaceAll(sfx[0].s, "%", "%%")
			}
			res = append(res, a)
		}
		out = res
	}
	return out
}

// volumeOpErrors handles the eventRecorderFunc closures of the volume
// operation generator, which record "(*err).Error()": the error is the
// simple (event) error returned by the operation function, built with
// X.GenerateError(prefix, err) inside the same Generate*Func.
func (x *extractor) volumeOpErrors(c *fnCtx, depth int) []alt {
	var out []alt
	ast.Inspect(c.decl.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Rhs) != 1 || len(as.Lhs) != 2 {
			return true
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok || !isVolumeMsgHelper(call) || call.Fun.(*ast.SelectorExpr).Sel.Name != "GenerateError" {
			return true
		}
		out = append(out, x.volumeMsg(call, c, depth)...)
		return true
	})
	return dedupAlts(out)
}

func allNil(es []ast.Expr) bool {
	for _, e := range es {
		if e != nil {
			return false
		}
	}
	return true
}

type funcDef struct {
	decl *ast.FuncDecl
	file *fileInfo
}

func (x *extractor) indexFuncs() {
	x.funcs = map[string]funcDef{}
	x.allFuncs = map[string]funcDef{}
	x.paramAlias = map[string]map[string][]*wrapper{}
	for _, p := range x.pkgs {
		for _, fi := range p.files {
			for _, d := range fi.f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv != nil || fd.Body == nil {
					continue
				}
				x.allFuncs[p.path+"."+fd.Name.Name] = funcDef{fd, fi}
				if fd.Type.Results == nil {
					continue
				}
				rs := fd.Type.Results.List
				if len(rs) != 1 || len(rs[0].Names) > 1 {
					continue
				}
				if id, ok := rs[0].Type.(*ast.Ident); !ok || id.Name != "string" {
					continue
				}
				x.funcs[p.path+"."+fd.Name.Name] = funcDef{fd, fi}
			}
		}
	}
}

// resolveReturn resolves a call to a package-level function returning a
// string by resolving its return statements.
func (x *extractor) resolveReturn(call *ast.CallExpr, c *fnCtx, depth int) []alt {
	if c == nil || depth > 6 {
		return nil
	}
	var key string
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		key = c.file.pkg.path + "." + fn.Name
	case *ast.SelectorExpr:
		id, ok := fn.X.(*ast.Ident)
		if !ok {
			return nil
		}
		p, ok := c.file.imports[id.Name]
		if !ok {
			return nil
		}
		key = p + "." + fn.Sel.Name
	default:
		return nil
	}
	fd, ok := x.funcs[key]
	if !ok {
		return nil
	}
	fc := newFnCtx(fd.file, fd.decl)
	var vals []alt
	ast.Inspect(fd.decl.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			if len(n.Results) == 1 {
				vals = append(vals, x.resolve(n.Results[0], fc, depth+1)...)
			}
		}
		return true
	})
	if len(vals) == 0 || len(vals) > maxAlts {
		return nil
	}
	return x.instantiate(dedupAlts(vals), call.Args, c, false)
}

func newFnCtx(fi *fileInfo, d *ast.FuncDecl) *fnCtx {
	c := &fnCtx{file: fi, decl: d, params: map[string]int{}}
	i := 0
	for _, fl := range d.Type.Params.List {
		if _, ok := fl.Type.(*ast.Ellipsis); ok {
			c.variadic = true
		}
		if len(fl.Names) == 0 {
			i++
			continue
		}
		for _, n := range fl.Names {
			if n.Name != "_" {
				c.params[n.Name] = i
			}
			i++
		}
	}
	c.nparams = i
	return c
}

func titleArg(call *ast.CallExpr) ast.Expr {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "String" || len(call.Args) != 1 {
		return nil
	}
	inner, ok := sel.X.(*ast.CallExpr)
	if !ok {
		return nil
	}
	if isel, ok := inner.Fun.(*ast.SelectorExpr); ok && isel.Sel.Name == "Title" {
		return call.Args[0]
	}
	return nil
}

func (x *extractor) isFmtCall(call *ast.CallExpr, c *fnCtx) bool {
	if titleArg(call) != nil {
		return true
	}
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
		if id, ok := sel.X.(*ast.Ident); ok && c != nil && (c.file.imports[id.Name] == "fmt" || c.file.imports[id.Name] == "strings") {
			return true
		}
		if isVolumeMsgHelper(call) {
			return true
		}
	}
	return false
}

func (x *extractor) isErrCtor(e ast.Expr, c *fnCtx) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	p := c.file.imports[id.Name]
	return (p == "fmt" && sel.Sel.Name == "Errorf") || (p == "errors" && sel.Sel.Name == "New")
}
