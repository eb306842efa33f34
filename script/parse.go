package script

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gicits/gicits/model"
)

// Error is a mistake in a script: where, and what was expected instead of
// what was found.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// maxErrors is how many parse errors one Parse reports before giving up.
const maxErrors = 20

// maxRepeat bounds repeat N so that no script runs forever.
const maxRepeat = 100000

// ParseFile reads and parses the script in file.
func ParseFile(file string) (*Script, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, src)
}

// Parse parses src, naming it file in positions. It returns the script, or
// nil and an error joining one [*Error] per faulty line (at most 20): the
// script is nil exactly when the error is not.
func Parse(file string, src []byte) (*Script, error) {
	s := &Script{File: file}
	var errs []error
	firstAction := 0 // line of the first action, 0 before it
	for i, line := range strings.Split(string(src), "\n") {
		if len(errs) >= maxErrors {
			errs = append(errs, &Error{Pos: Pos{File: file, Line: i + 1, Col: 1}, Msg: "too many errors"})
			break
		}
		p := &lineParser{pos: Pos{File: file, Line: i + 1}}
		st, err := p.parseLine(line)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st == nil {
			continue
		}
		if _, ok := st.(Setting); ok {
			if firstAction != 0 {
				errs = append(errs, &Error{Pos: st.Position(), Msg: fmt.Sprintf("%s: settings must come before the first action (line %d)", strings.Fields(st.String())[0], firstAction)})
				continue
			}
		} else if firstAction == 0 {
			firstAction = i + 1
		}
		s.Stmts = append(s.Stmts, st)
	}
	errs = append(errs, checkGICv4Settings(s)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// ParseStatement parses one line as a statement of a script named file.
// A blank or comment line gives a nil statement and no error.
func ParseStatement(file string, line int, text string) (Stmt, error) {
	p := &lineParser{pos: Pos{File: file, Line: line}}
	return p.parseLine(text)
}

type token struct {
	text string
	col  int
}

type lineParser struct {
	pos  Pos
	toks []token
}

func (p *lineParser) errAt(col int, format string, args ...any) error {
	pos := p.pos
	pos.Col = col
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *lineParser) parseLine(line string) (Stmt, error) {
	if !utf8.ValidString(line) {
		return nil, p.errAt(1, "line is not valid UTF-8")
	}
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSuffix(line, "\r")
	var toks []token
	for i := 0; i < len(line); {
		c := line[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
			i++
			continue
		}
		j := i
		for j < len(line) && !strings.ContainsRune(" \t\r\v\f", rune(line[j])) {
			j++
		}
		toks = append(toks, token{text: line[i:j], col: utf8.RuneCountInString(line[:i]) + 1})
		i = j
	}
	if len(toks) == 0 {
		return nil, nil
	}
	p.toks = toks
	return p.statement(toks)
}

// statement parses toks as one statement; repeat recurses.
func (p *lineParser) statement(toks []token) (Stmt, error) {
	verb := strings.ToLower(toks[0].text)
	at := At{Pos: Pos{File: p.pos.File, Line: p.pos.Line, Col: toks[0].col}}
	switch verb {
	case "raw":
		return p.raw(toks, at)
	case "repeat":
		return p.repeat(toks, at)
	case "batch":
		return p.batch(toks, at)
	case "expect":
		if len(toks) < 2 {
			return nil, p.errAt(toks[0].col+len(toks[0].text), "expect: want one of %s, found end of line", strings.Join(expectNames(), ", "))
		}
		sub := strings.ToLower(toks[1].text)
		parse, ok := expectParsers[sub]
		if !ok {
			return nil, p.errAt(toks[1].col, "expect: want one of %s, found %q", strings.Join(expectNames(), ", "), toks[1].text)
		}
		return p.withFields(parse, "expect "+sub, toks[0].col, toks[2:], at)
	}
	parse, ok := stmtParsers[verb]
	if !ok {
		return nil, p.errAt(toks[0].col, "want a statement (%s), found %q", strings.Join(stmtNames(), ", "), toks[0].text)
	}
	return p.withFields(parse, verb, toks[0].col, toks[1:], at)
}

// raw parses `raw HEX...`: one command packet, its hex digits split
// across tokens as the writer likes.
func (p *lineParser) raw(toks []token, at At) (Stmt, error) {
	if len(toks) < 2 {
		return nil, p.errAt(toks[0].col+len(toks[0].text), "raw: want 64 hex digits (a 32-byte command packet), found end of line")
	}
	var hex strings.Builder
	for _, t := range toks[1:] {
		hex.WriteString(t.text)
	}
	pkt, err := model.ParsePacket(hex.String())
	if err != nil {
		return nil, p.errAt(toks[1].col, "raw: want 64 hex digits (a 32-byte command packet), found %q", hex.String())
	}
	return &CommandStmt{At: at, Cmd: pkt}, nil
}

// repeat parses `repeat N ACTION`.
func (p *lineParser) repeat(toks []token, at At) (Stmt, error) {
	if len(toks) < 3 {
		return nil, p.errAt(toks[0].col, "repeat: want `repeat N ACTION`")
	}
	n, err := strconv.ParseUint(toks[1].text, 0, 32)
	if err != nil || n < 1 || n > maxRepeat {
		return nil, p.errAt(toks[1].col, "repeat: want a count 1..%d, found %q", maxRepeat, toks[1].text)
	}
	body, err := p.statement(toks[2:])
	if err != nil {
		return nil, err
	}
	switch body.(type) {
	case Setting, Expectation, *RepeatStmt, *RestoreStmt:
		return nil, p.errAt(toks[2].col, "repeat: want an action to repeat, found %q", toks[2].text)
	}
	return &RepeatStmt{At: at, N: int(n), Body: body}, nil
}

// batch parses `batch CMD; CMD; ...`: ITS commands written to the queue
// together, GITS_CWRITER moved once past them all.
func (p *lineParser) batch(toks []token, at At) (Stmt, error) {
	var groups [][]token
	cur := []token{}
	for _, t := range toks[1:] {
		text, ends := strings.CutSuffix(t.text, ";")
		if text != "" {
			cur = append(cur, token{text: text, col: t.col})
		}
		if ends {
			groups, cur = append(groups, cur), []token{}
		}
	}
	groups = append(groups, cur)
	b := &BatchStmt{At: at}
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		st, err := p.statement(g)
		if err != nil {
			return nil, err
		}
		c, ok := st.(*CommandStmt)
		if !ok {
			return nil, p.errAt(g[0].col, "batch: want ITS commands separated by ';', found %q", g[0].text)
		}
		b.Cmds = append(b.Cmds, c)
	}
	if len(b.Cmds) == 0 {
		return nil, p.errAt(toks[0].col, "batch: want `batch CMD; CMD; ...` (ITS commands), found none")
	}
	return b, nil
}

// withFields splits toks into the fields of the statement verb (at
// verbCol) and parses them with parse. The statement comes with an error
// only when it left a field or word unused.
func (p *lineParser) withFields(parse parseFunc, verb string, verbCol int, toks []token, at At) (Stmt, error) {
	f := &fields{p: p, verb: verb, verbCol: verbCol}
	if f.split(toks); f.err != nil {
		return nil, f.err
	}
	if strings.HasPrefix(verb, "expect ") {
		at.KVM = f.kvmClasses()
	}
	st := parse(f, at)
	if f.err != nil {
		return nil, f.err
	}
	return st, f.done()
}

// fields holds a statement's key=value fields and bare words, and the
// first error met reading them, as bufio.Scanner does: a reader that
// fails records the error and returns a zero value, and once an error is
// recorded the readers record no other, so a statement's parser reads on
// and its caller checks err once.
type fields struct {
	p       *lineParser
	verb    string
	verbCol int
	keys    []string
	kv      map[string]token // value tokens; col is the key's column
	words   []token
	used    map[string]bool
	wordUse []bool
	err     error // the first error
}

// setErr records err unless an error is recorded already.
func (f *fields) setErr(err error) {
	if f.err == nil {
		f.err = err
	}
}

// fail records an error at col unless one is recorded already.
func (f *fields) fail(col int, format string, args ...any) {
	if f.err == nil {
		f.err = f.p.errAt(col, format, args...)
	}
}

func (f *fields) split(toks []token) {
	f.kv = map[string]token{}
	f.used = map[string]bool{}
	for _, t := range toks {
		k, v, ok := strings.Cut(t.text, "=")
		if !ok {
			f.words = append(f.words, t)
			continue
		}
		k = strings.ToLower(k)
		if k == "" {
			f.fail(t.col, "%s: want key=value, found %q", f.verb, t.text)
			return
		}
		if _, dup := f.kv[k]; dup {
			f.fail(t.col, "%s: field %s= given twice", f.verb, k)
			return
		}
		f.keys = append(f.keys, k)
		f.kv[k] = token{text: v, col: t.col}
	}
	f.wordUse = make([]bool, len(f.words))
}

// endCol is the column just past the last token, for "found end of line".
func (f *fields) endCol() int {
	last := f.p.toks[len(f.p.toks)-1]
	return last.col + utf8.RuneCountInString(last.text)
}

// has reports whether key= was given.
func (f *fields) has(key string) bool {
	_, ok := f.kv[key]
	return ok
}

// num returns the number in key=, which must fit bits bits.
func (f *fields) num(key string, bits int) uint64 {
	if f.err != nil {
		return 0
	}
	t, ok := f.kv[key]
	if !ok {
		f.fail(f.endCol(), "%s: want field %s=, found end of line", f.verb, key)
		return 0
	}
	f.used[key] = true
	return f.numIn(key, t, bits)
}

// numIn returns the number t holds as the value of key=, which must fit
// bits bits.
func (f *fields) numIn(key string, t token, bits int) uint64 {
	if f.err != nil {
		return 0
	}
	v, err := f.p.parseNum(f.verb, key, t, bits)
	f.setErr(err)
	return v
}

func (p *lineParser) parseNum(verb, key string, t token, bits int) (uint64, error) {
	v, err := strconv.ParseUint(t.text, 0, 64)
	if err != nil {
		return 0, p.errAt(t.col, "%s: %s= wants a number (decimal or 0x hex), found %q", verb, key, t.text)
	}
	if bits < 64 && v >= 1<<bits {
		return 0, p.errAt(t.col, "%s: %s=%s does not fit %d bits", verb, key, t.text, bits)
	}
	return v, nil
}

// optNum returns key='s number, or def when key= is absent.
func (f *fields) optNum(key string, bits int, def uint64) uint64 {
	if !f.has(key) {
		return def
	}
	return f.num(key, bits)
}

// alias returns the one of keys given; none or more than one is an error.
func (f *fields) alias(keys ...string) string {
	k, err := f.whichAlias(keys...)
	f.setErr(err)
	return k
}

// whichAlias returns the one of keys given, or an error saying that none
// or more than one was, for a caller that says it otherwise.
func (f *fields) whichAlias(keys ...string) (string, error) {
	found := ""
	for _, k := range keys {
		if f.has(k) {
			if found != "" {
				return "", f.p.errAt(f.kv[k].col, "%s: give %s= or %s=, not both", f.verb, found, k)
			}
			found = k
		}
	}
	if found == "" {
		return "", f.p.errAt(f.endCol(), "%s: want field %s=, found end of line", f.verb, strings.Join(keys, "= or "))
	}
	return found, nil
}

// str returns key='s text, lower-cased.
func (f *fields) str(key string) (token, bool) {
	t, ok := f.kv[key]
	if ok {
		f.used[key] = true
		t.text = strings.ToLower(t.text)
	}
	return t, ok
}

// word returns the first unused bare word equal to one of choices, if
// any, lower-cased.
func (f *fields) word(choices ...string) (string, bool) {
	for i, w := range f.words {
		if f.wordUse[i] {
			continue
		}
		lw := strings.ToLower(w.text)
		if slices.Contains(choices, lw) {
			f.wordUse[i] = true
			return lw, true
		}
	}
	return "", false
}

// nextWord returns the next unused bare word, if any.
func (f *fields) nextWord() (token, bool) {
	for i, w := range f.words {
		if !f.wordUse[i] {
			f.wordUse[i] = true
			return w, true
		}
	}
	return token{}, false
}

// done records an error for the first field or word the statement did not
// use, and returns the first error.
func (f *fields) done() error {
	for _, k := range f.keys {
		if !f.used[k] {
			f.fail(f.kv[k].col, "%s: unexpected field %s=", f.verb, k)
			return f.err
		}
	}
	for i, w := range f.words {
		if !f.wordUse[i] {
			f.fail(w.col, "%s: unexpected word %q", f.verb, w.text)
			return f.err
		}
	}
	return f.err
}

// kvmClasses reads an expectation's optional kvm=CLASS[,CLASS...] field:
// the fidelity catalogue's classes whose divergence makes the expectation
// fail on KVM (docs/fidelity.md).
func (f *fields) kvmClasses() []string {
	t, ok := f.str("kvm")
	if !ok {
		return nil
	}
	classes := strings.Split(t.text, ",")
	for _, c := range classes {
		if !validClass(c) {
			f.fail(t.col, "%s: kvm=%s: want a comma-separated list of divergence classes (lower-case words joined by -)", f.verb, t.text)
			return nil
		}
	}
	return classes
}

// validClass reports whether c is spelled as a divergence class: a-z, 0-9
// and inner dashes.
func validClass(c string) bool {
	if c == "" || c[0] == '-' || c[len(c)-1] == '-' {
		return false
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// parseFunc parses a statement from its fields; f records the error, if
// any, and then the statement returned does not matter.
type parseFunc func(f *fields, at At) Stmt

var stmtParsers map[string]parseFunc
var expectParsers map[string]parseFunc

func stmtNames() []string {
	names := []string{"batch", "expect", "raw", "repeat"}
	for n := range stmtParsers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func expectNames() []string {
	var names []string
	for n := range expectParsers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func init() {
	stmtParsers = map[string]parseFunc{
		"cpus":       parseCPUs,
		"policy":     parsePolicy,
		"cache":      parseCache,
		"queue":      parseQueue,
		"ram":        parseRAM,
		"itt":        parseITT,
		"devtable":   parseTable,
		"colltable":  parseTable,
		"lpi":        parseLPI,
		"enablelpis": parseEnableLPIs,
		"mapd":       parseMAPD,
		"mapc":       parseMAPC,
		"mapti":      parseMAPTI,
		"mapi":       parseEventICIDCmd,
		"movi":       parseEventICIDCmd,
		"discard":    parseEventCmd,
		"inv":        parseEventCmd,
		"int":        parseEventCmd,
		"clear":      parseEventCmd,
		"invall":     parseINVALL,
		"sync":       parseSYNC,
		"movall":     parseMOVALL,
		"l2page":     parseL2Page,
		"msi":        parseMSI,
		"route":      parseRoute,
		"unroute":    parseUnroute,
		"trigger":    parseTrigger,
		"ack":        parseAck,
		"eoi":        parseEOI,
		"pmr":        parsePMR,
		"invlpir":    parseInvLPIR,
		"invallr":    parseInvAllR,
		"write":      parseWrite,
		"poke":       parsePoke,
		"save":       parseSave,
		"restore":    parseRestore,
		"itses":      parseITSes,
		"its":        parseITS,
		// GICv4.0 (parse_gicv4.go)
		"gicv4":       parseGICv4,
		"vpetable":    parseVPETable,
		"vmapp":       parseVMAPP,
		"vmapti":      parseVMAPTI,
		"vmapi":       parseVMAPI,
		"vmovi":       parseVMOVI,
		"vmovp":       parseVMOVP,
		"vsync":       parseVPECmd,
		"vinvall":     parseVPECmd,
		"vlpi":        parseVLPI,
		"vschedule":   parseVSchedule,
		"vdeschedule": parseVDeschedule,
		"vack":        parseVAck,
		"veoi":        parseVEOI,
		"vpmr":        parseVPMR,
		// GICv4.1 (parse_gicv4.go)
		"invdb":    parseINVDB,
		"vsgi":     parseVSGI,
		"sgir":     parseSGIR,
		"vinvlpir": parseVInvR,
		"vinvallr": parseVInvR,
	}
	expectParsers = map[string]parseFunc{
		"pending":    parseExpectPending,
		"notpending": parseExpectPending,
		"idle":       parseExpectPending,
		"ack":        parseExpectAck,
		"msi":        parseExpectMSI,
		"error":      parseExpectError,
		"fail":       parseExpectFail,
		"reg":        parseExpectReg,
		"mem":        parseExpectMem,
		"stalled":    parseExpectStalled,
		"notstalled": parseExpectStalled,
		"dte":        parseExpectDTE,
		"translate":  parseExpectTranslate,
		"ite":        parseExpectITE,
		"cte":        parseExpectCTE,
		// GICv4.0 (parse_gicv4.go)
		"vpending":    parseExpectPending,
		"vnotpending": parseExpectPending,
		"vidle":       parseExpectPending,
		"vack":        parseExpectAck,
		"vpt":         parseExpectVPT,
		"vte":         parseExpectVTE,
		"vsgipending": parseExpectVSGIPending,
	}
}

// positional returns the one bare word a statement like `cpus 2` takes.
func (f *fields) positional(what string) token {
	t, ok := f.nextWord()
	if !ok {
		f.fail(f.endCol(), "%s: want %s, found end of line", f.verb, what)
	}
	return t
}

func parseCPUs(f *fields, at At) Stmt {
	t := f.positional("a number of CPUs")
	if f.err != nil {
		return nil
	}
	n, err := f.p.parseNum(f.verb, "count", t, 64)
	if err != nil || n < 1 || n > 32 {
		f.fail(t.col, "cpus: want a number of CPUs 1..32, found %q", t.text)
	}
	return &CPUsStmt{At: at, N: int(n)}
}

func parsePolicy(f *fields, at At) Stmt {
	w, ok := f.word("stall", "continue")
	if !ok {
		f.fail(f.endCol(), "policy: want stall or continue")
	}
	s := &PolicyStmt{At: at}
	if w == "stall" {
		s.Policy = model.StallOnError
	}
	return s
}

func parseCache(f *fields, at At) Stmt {
	w, ok := f.word("on", "off")
	if !ok {
		f.fail(f.endCol(), "cache: want on or off")
	}
	return &CacheStmt{At: at, Off: w == "off"}
}

func parseQueue(f *fields, at At) Stmt {
	n := f.num("pages", 9)
	if f.err == nil && (n < 1 || n > 256) {
		f.fail(f.kv["pages"].col, "queue: pages=%d: want 1..256 4 KiB pages", n)
	}
	return &QueueStmt{At: at, Pages: int(n), Addr: f.tableAddr()}
}

// tableAddr returns a table's at= address (0 when there is none).
func (f *fields) tableAddr() model.GPA {
	if !f.has("at") {
		return 0
	}
	a := f.num("at", 52)
	if f.err == nil && a%4096 != 0 {
		f.fail(f.kv["at"].col, "%s: at=%#x: want a 4 KiB aligned address", f.verb, a)
	}
	return model.GPA(a)
}

func parseRAM(f *fields, at At) Stmt {
	n := f.num("mib", 16)
	if f.err == nil && (n < 16 || n > 4096) {
		f.fail(f.kv["mib"].col, "ram: mib=%d: want 16..4096 MiB", n)
	}
	return &RAMStmt{At: at, MiB: int(n)}
}

// The ITT entry sizes `itt entrysize=` takes: at least
// the 8-byte ABI revision 0 ITE, at most what GITS_TYPER.ITT_entry_size (4
// bits, the size minus one) can say.
const minITTEntrySize, maxITTEntrySize = model.TableEntrySize, 16

func parseITT(f *fields, at At) Stmt {
	n := f.num("entrysize", 8)
	if f.err == nil && (n < minITTEntrySize || n > maxITTEntrySize) {
		f.fail(f.kv["entrysize"].col, "itt: entrysize=%d: want %d..%d bytes (GITS_TYPER.ITT_entry_size + 1; KVM's is 8, QEMU's 12)", n, minITTEntrySize, maxITTEntrySize)
	}
	return &ITTStmt{At: at, EntrySize: int(n)}
}

func parseTable(f *fields, at At) Stmt {
	s := &TableStmt{At: at, Collections: f.verb == "colltable"}
	if !s.Collections {
		w, ok := f.word("flat", "indirect")
		if !ok {
			f.fail(f.verbCol+len(f.verb)+1, "devtable: want flat or indirect")
		}
		s.Indirect = w == "indirect"
	}
	s.PageSize = f.pageSize()
	if f.has("pages") {
		n := f.num("pages", 9)
		if f.err == nil && (n < 1 || n > 256) {
			f.fail(f.kv["pages"].col, "%s: pages=%d: want 1..256", f.verb, n)
		}
		s.Pages = int(n)
	}
	if t, ok := f.str("l2"); ok {
		switch {
		case s.Collections || !s.Indirect:
			f.fail(t.col, "%s: l2= is for an indirect device table", f.verb)
		case t.text == "manual":
			s.ManualL2 = true
		case t.text != "auto":
			f.fail(t.col, "%s: l2= wants auto or manual, found %q", f.verb, t.text)
		}
	}
	s.Addr = f.tableAddr()
	return s
}

func (f *fields) intid(key string) model.INTID { return model.INTID(f.num(key, 32)) }

// cpu returns the CPU number in cpu=, or in the one of keys given.
func (f *fields) cpu(keys ...string) model.CPU {
	if len(keys) == 0 {
		keys = []string{"cpu"}
	}
	return model.CPU(f.num(f.alias(keys...), 32))
}

func (f *fields) dev() model.DeviceID { return model.DeviceID(f.num("dev", 32)) }

func (f *fields) ev() model.EventID { return model.EventID(f.num("ev", 32)) }

func (f *fields) icid() model.ICID { return model.ICID(f.num("icid", 16)) }

func parseLPI(f *fields, at At) Stmt {
	t := f.positional("an LPI INTID or range FIRST..LAST")
	lo, hi, isRange := strings.Cut(t.text, "..")
	first := f.numIn("INTID", token{lo, t.col}, 32)
	last := first
	if isRange {
		last = f.numIn("INTID", token{hi, t.col + len(lo) + 2}, 32)
	}
	if f.err == nil && (first < uint64(model.LPIBase) || last < first || last-first >= 1<<16) {
		f.fail(t.col, "lpi: want an LPI INTID (8192 and up) or a range FIRST..LAST of at most 65536, found %q", t.text)
	}
	prio := f.num("prio", 8)
	w, ok := f.word("enabled", "disabled")
	if !ok {
		f.fail(f.endCol(), "lpi: want enabled or disabled")
	}
	return &LPIStmt{At: at, First: model.INTID(first), Last: model.INTID(last), Config: model.MakeLPIConfig(uint8(prio), w == "enabled")}
}

func parseEnableLPIs(f *fields, at At) Stmt {
	if _, ok := f.word("all"); ok {
		return &EnableLPIsStmt{At: at, All: true}
	}
	return &EnableLPIsStmt{At: at, CPU: f.cpu()}
}

func (f *fields) valid() bool { return f.optNum("valid", 1, 1) == 1 }

// eventIDBits returns the number of EventID bits in bits=, 1..32.
func (f *fields) eventIDBits() uint64 {
	b := f.num("bits", 6)
	if f.err == nil && (b < 1 || b > 32) {
		f.fail(f.kv["bits"].col, "mapd: bits=%d: want 1..32 EventID bits", b)
	}
	return b
}

func parseMAPD(f *fields, at At) Stmt {
	dev := f.dev()
	valid := f.valid()
	c := model.MAPD{DeviceID: dev, Valid: valid}
	if !valid {
		// A MAPD with V=0 may still carry the other fields (raw form).
		if f.has("bits") {
			c.Size = uint8(f.eventIDBits() - 1)
		}
		return &CommandStmt{At: at, Cmd: c}
	}
	var bits uint64
	if f.has("size") && !f.has("bits") {
		bits = f.num("size", 5) + 1
	} else {
		bits = f.eventIDBits()
	}
	c.Size = uint8(bits - 1)
	s := &CommandStmt{At: at, Cmd: c, AutoITT: true}
	if f.has("itt") {
		a := f.num("itt", 52)
		if a%256 != 0 {
			f.fail(f.kv["itt"].col, "mapd: itt=%#x: want a 256-byte aligned address", a)
		}
		c.ITTAddr = model.GPA(a)
		s.Cmd, s.AutoITT = c, false
	}
	return s
}

func parseMAPC(f *fields, at At) Stmt {
	icid := f.icid()
	valid := f.valid()
	c := model.MAPC{ICID: icid, Valid: valid}
	if valid || f.has("cpu") || f.has("rdbase") {
		c.RDbase = f.num(f.alias("cpu", "rdbase"), 36)
	}
	return &CommandStmt{At: at, Cmd: c}
}

func parseMAPTI(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	lpi := f.intid("lpi")
	return &CommandStmt{At: at, Cmd: model.MAPTI{DeviceID: dev, EventID: ev, INTID: lpi, ICID: f.icid()}}
}

// parseEventICIDCmd parses MAPI and MOVI: an event and a collection.
func parseEventICIDCmd(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	icid := f.icid()
	if f.verb == "mapi" {
		return &CommandStmt{At: at, Cmd: model.MAPI{DeviceID: dev, EventID: ev, ICID: icid}}
	}
	return &CommandStmt{At: at, Cmd: model.MOVI{DeviceID: dev, EventID: ev, ICID: icid}}
}

// parseEventCmd parses DISCARD, INV, INT and CLEAR: an event, nothing else.
func parseEventCmd(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	var c model.Command
	switch f.verb {
	case "discard":
		c = model.DISCARD{DeviceID: dev, EventID: ev}
	case "inv":
		c = model.INV{DeviceID: dev, EventID: ev}
	case "int":
		c = model.INT{DeviceID: dev, EventID: ev}
	default:
		c = model.CLEAR{DeviceID: dev, EventID: ev}
	}
	return &CommandStmt{At: at, Cmd: c}
}

func parseINVALL(f *fields, at At) Stmt {
	return &CommandStmt{At: at, Cmd: model.INVALL{ICID: f.icid()}}
}

func parseSYNC(f *fields, at At) Stmt {
	return &CommandStmt{At: at, Cmd: model.SYNC{RDbase: f.num(f.alias("cpu", "rdbase"), 36)}}
}

func parseMOVALL(f *fields, at At) Stmt {
	k1, k2 := f.alias("from", "rdbase1"), f.alias("to", "rdbase2")
	r1 := f.num(k1, 36)
	r2 := f.num(k2, 36)
	return &CommandStmt{At: at, Cmd: model.MOVALL{RDbase1: r1, RDbase2: r2}}
}

func parseL2Page(f *fields, at At) Stmt { return &L2PageStmt{At: at, Dev: f.dev()} }

func (f *fields) devIDMode() DevIDMode {
	t, ok := f.str("devid")
	if !ok {
		return DevIDAuto
	}
	switch t.text {
	case "auto":
		return DevIDAuto
	case "none":
		return DevIDNone
	case "valid":
		return DevIDValid
	}
	f.fail(t.col, "%s: devid= wants auto, none or valid, found %q", f.verb, t.text)
	return 0
}

func parseMSI(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	mode := f.devIDMode()
	db := f.optNum("doorbell", 64, 0)
	return &MSIStmt{At: at, Dev: dev, Ev: ev, DevID: mode, Doorbell: model.GPA(db)}
}

func (f *fields) gsi() model.GSI {
	v := f.num("gsi", 32)
	if f.err == nil && v >= model.MaxGSIRoutes {
		f.fail(f.kv["gsi"].col, "%s: gsi=%d: want 0..%d", f.verb, v, model.MaxGSIRoutes-1)
	}
	return model.GSI(v)
}

func parseRoute(f *fields, at At) Stmt {
	gsi := f.gsi()
	dev, ev := f.dev(), f.ev()
	return &RouteStmt{At: at, GSI: gsi, Dev: dev, Ev: ev, DevID: f.devIDMode()}
}

func parseUnroute(f *fields, at At) Stmt { return &UnrouteStmt{At: at, GSI: f.gsi()} }

func parseTrigger(f *fields, at At) Stmt { return &TriggerStmt{At: at, GSI: f.gsi()} }

func parseAck(f *fields, at At) Stmt { return &AckStmt{At: at, CPU: f.cpu()} }

func parseEOI(f *fields, at At) Stmt {
	cpu := f.cpu()
	return &EOIStmt{At: at, CPU: cpu, LPI: model.INTID(f.optNum("lpi", 32, 0))}
}

func parsePMR(f *fields, at At) Stmt {
	cpu := f.cpu()
	return &PMRStmt{At: at, CPU: cpu, Value: uint8(f.num("value", 8))}
}

func parseInvLPIR(f *fields, at At) Stmt {
	cpu := f.cpu()
	return &InvLPIRStmt{At: at, CPU: cpu, LPI: f.intid("lpi")}
}

func parseInvAllR(f *fields, at At) Stmt { return &InvAllRStmt{At: at, CPU: f.cpu()} }

var registers = map[string]Register{}

func init() {
	for _, r := range []model.ITSRegister{model.GITS_CTLR, model.GITS_IIDR, model.GITS_TYPER, model.GITS_CBASER, model.GITS_CWRITER, model.GITS_CREADR, model.GITS_PIDR2} {
		registers[r.String()] = Register{Name: r.String(), ITS: r}
	}
	for n := range 8 {
		r := model.GITS_BASER(n)
		registers[r.String()] = Register{Name: r.String(), ITS: r}
	}
	for _, r := range []model.GICRRegister{model.GICR_CTLR, model.GICR_IIDR, model.GICR_TYPER, model.GICR_PROPBASER, model.GICR_PENDBASER, model.GICR_INVLPIR, model.GICR_INVALLR, model.GICR_SYNCR, model.GICR_VPROPBASER, model.GICR_VPENDBASER} {
		registers[r.String()] = Register{Name: r.String(), GICR: r, IsRD: true}
	}
}

func (f *fields) register() Register {
	t := f.positional("a register name such as GITS_CTLR or GICR_CTLR")
	if f.err != nil {
		return Register{}
	}
	r, ok := registers[strings.ToUpper(t.text)]
	if !ok {
		names := slices.Sorted(maps.Keys(registers))
		f.fail(t.col, "%s: want a register (%s), found %q", f.verb, strings.Join(names, ", "), t.text)
	}
	return r
}

// registerCPU returns the CPU in cpu= for a redistributor register, and 0
// for an ITS register, which takes none.
func (f *fields) registerCPU(r Register) model.CPU {
	if !r.IsRD {
		return 0
	}
	return f.cpu()
}

func parseWrite(f *fields, at At) Stmt {
	r := f.register()
	cpu := f.registerCPU(r)
	return &WriteRegStmt{At: at, Reg: r, CPU: cpu, Value: f.num("value", 64)}
}

func parsePoke(f *fields, at At) Stmt {
	a := f.num("addr", 64)
	return &PokeStmt{At: at, Addr: model.GPA(a), Value: f.num("value", 64)}
}

func parseSave(f *fields, at At) Stmt { return &SaveStmt{At: at} }

func parseRestore(f *fields, at At) Stmt {
	_, inplace := f.word("inplace")
	return &RestoreStmt{At: at, InPlace: inplace}
}

func (f *fields) intidList(key string) []model.INTID { return f.intids(key, ",") }

// intids returns the INTIDs of key=A<sep>B<sep>...
func (f *fields) intids(key, sep string) []model.INTID {
	t, ok := f.kv[key]
	if !ok {
		f.fail(f.endCol(), "%s: want field %s=, found end of line", f.verb, key)
		return nil
	}
	f.used[key] = true
	var ids []model.INTID
	col := t.col + len(key) + 1
	for part := range strings.SplitSeq(t.text, sep) {
		ids = append(ids, model.INTID(f.numIn(key, token{part, col}, 32)))
		col += len(part) + 1
	}
	return ids
}

// parseExpectPending parses expect pending|notpending|idle and their
// virtual forms, vpending|vnotpending|vidle, whose fields are vlpi= and
// vlpis=.
func parseExpectPending(f *fields, at At) Stmt {
	sub := strings.TrimPrefix(f.verb, "expect ")
	s := &ExpectPendingStmt{At: at, CPU: f.cpu(), Virtual: strings.HasPrefix(sub, "v")}
	key := "lpi"
	if s.Virtual {
		sub, key = sub[1:], "vlpi"
	}
	switch {
	case sub == "idle":
		s.Exact = true
	case sub == "notpending":
		s.Not = true
		s.LPIs = f.intidList(key)
	case f.has(key + "s"):
		s.Exact = true
		s.LPIs = f.intidList(key + "s")
	default:
		s.LPIs = f.intidList(key)
	}
	return s
}

// parseExpectAck parses expect ack, and expect vack (field vlpi=).
func parseExpectAck(f *fields, at At) Stmt {
	s := &ExpectAckStmt{At: at, CPU: f.cpu(), Virtual: f.verb == "expect vack"}
	key := "lpi"
	if s.Virtual {
		key = "vlpi"
	}
	switch _, spurious := f.word("spurious"); {
	case spurious:
		s.LPI = model.SpuriousINTID
	case !f.has(key):
		f.fail(f.endCol(), "%s: want %s=N or spurious, found end of line", f.verb, key)
	default:
		ids := f.intids(key, "|")
		if len(ids) > 0 {
			s.LPI, s.Or = ids[0], ids[1:]
		}
	}
	return s
}

func parseExpectMSI(f *fields, at At) Stmt {
	w, ok := f.word("delivered", "blocked")
	if !ok {
		f.fail(f.endCol(), "expect msi: want delivered or blocked")
	}
	s := &ExpectMSIStmt{At: at, Want: model.Blocked}
	if w == "delivered" {
		s.Want = model.Delivered
	}
	return s
}

func parseExpectError(f *fields, at At) Stmt {
	t := f.positional("an ITS error code such as E_ITS_MAPD_DEVICE_OOR, codes A|B, or any")
	if f.err != nil {
		return nil
	}
	if strings.EqualFold(t.text, "any") {
		return &ExpectErrorStmt{At: at, Any: true}
	}
	s := &ExpectErrorStmt{At: at}
	col := t.col
	for i, part := range strings.Split(t.text, "|") {
		code, err := model.ParseErrorCode(part)
		if err != nil {
			f.fail(col, "expect error: want an ITS error code such as E_ITS_MAPD_DEVICE_OOR or 0x010801 (codes A|B, or any), found %q", part)
			return nil
		}
		if i == 0 {
			s.Code = code
		} else {
			s.Or = append(s.Or, code)
		}
		col += len(part) + 1
	}
	return s
}

func parseExpectFail(f *fields, at At) Stmt {
	s := &ExpectFailStmt{At: at}
	if w, ok := f.word(failKindNames...); ok {
		s.Kind = FailKind(slices.Index(failKindNames, w))
	}
	return s
}

func parseExpectReg(f *fields, at At) Stmt {
	r := f.register()
	cpu := f.registerCPU(r)
	value := f.num("value", 64)
	return &ExpectRegStmt{At: at, Reg: r, CPU: cpu, Value: value, Mask: f.optNum("mask", 64, 0)}
}

func parseExpectMem(f *fields, at At) Stmt {
	a := f.num("addr", 64)
	return &ExpectMemStmt{At: at, Addr: model.GPA(a), Value: f.num("value", 64), Mask: f.optNum("mask", 64, 0)}
}

func parseExpectTranslate(f *fields, at At) Stmt {
	s := &ExpectTranslateStmt{At: at, Dev: f.dev(), Ev: f.ev()}
	if _, blocked := f.word("blocked"); blocked {
		s.Blocked = true
		return s
	}
	s.LPI, s.CPU = f.intid("lpi"), f.cpu()
	return s
}

func parseExpectStalled(f *fields, at At) Stmt {
	s := &ExpectRegStmt{At: at, Reg: registers["GITS_CREADR"], Mask: model.GITS_CREADR_Stalled}
	if f.verb == "expect stalled" {
		s.Value = 1
	}
	return s
}

// optInt returns the number in key= as an int, or nil when key= is absent.
func optInt(f *fields, key string, bits int) *int {
	if !f.has(key) {
		return nil
	}
	n := int(f.num(key, bits))
	return &n
}

func parseExpectDTE(f *fields, at At) Stmt {
	s := &ExpectDTEStmt{At: at, Dev: f.dev()}
	if _, ok := f.word("invalid"); ok {
		s.Invalid = true
		return s
	}
	s.Bits = optInt(f, "bits", 6)
	if f.has("itt") {
		g := model.GPA(f.num("itt", 64))
		s.ITT = &g
	}
	s.Next = optInt(f, "next", 14)
	return s
}

func parseExpectITE(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	s := &ExpectITEStmt{At: at, Dev: dev, Ev: ev}
	if _, ok := f.word("invalid"); ok {
		s.Invalid = true
		return s
	}
	if f.has("vpe") || f.has("vpeid") || f.has("vlpi") || f.has("vintid") || f.has("db") {
		parseExpectVirtualITE(f, s)
		return s
	}
	if f.has("lpi") {
		v := f.intid("lpi")
		s.LPI = &v
	}
	if f.has("icid") {
		v := f.icid()
		s.ICID = &v
	}
	s.Next = optInt(f, "next", 16)
	return s
}

func parseExpectCTE(f *fields, at At) Stmt {
	s := &ExpectCTEStmt{At: at, ICID: f.icid()}
	if w, ok := f.word("unmapped", "absent"); ok {
		s.State = CTEUnmapped
		if w == "absent" {
			s.State = CTEAbsent
		}
		return s
	}
	k, err := f.whichAlias("cpu", "rdbase")
	if err != nil {
		f.fail(f.endCol(), "expect cte: want cpu=N, unmapped or absent, found end of line")
	}
	s.CPU = f.num(k, 36)
	return s
}

// pageSize parses an optional pagesize= field of a table setting: 4k, 16k
// or 64k (or their byte counts); 0 when absent.
func (f *fields) pageSize() int {
	t, ok := f.str("pagesize")
	if !ok {
		return 0
	}
	switch t.text {
	case "4k", "4096":
		return model.PageSize4K
	case "16k", "16384":
		return model.PageSize16K
	case "64k", "65536":
		return model.PageSize64K
	}
	f.fail(t.col, "%s: pagesize= wants 4k, 16k or 64k, found %q", f.verb, t.text)
	return 0
}
