package script

import (
	"errors"
	"fmt"
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
	f := &fields{p: p, verb: verb, verbCol: toks[0].col}
	at := At{Pos: Pos{File: p.pos.File, Line: p.pos.Line, Col: toks[0].col}}
	if verb == "raw" {
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
	if verb == "repeat" {
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
	if verb == "expect" {
		if len(toks) < 2 {
			return nil, p.errAt(toks[0].col+len(toks[0].text), "expect: want one of %s, found end of line", strings.Join(expectNames(), ", "))
		}
		sub := strings.ToLower(toks[1].text)
		parse, ok := expectParsers[sub]
		if !ok {
			return nil, p.errAt(toks[1].col, "expect: want one of %s, found %q", strings.Join(expectNames(), ", "), toks[1].text)
		}
		f.verb = "expect " + sub
		if err := f.split(toks[2:]); err != nil {
			return nil, err
		}
		st, err := parse(f, at)
		if err != nil {
			return nil, err
		}
		return st, f.done()
	}
	parse, ok := stmtParsers[verb]
	if !ok {
		return nil, p.errAt(toks[0].col, "want a statement (%s), found %q", strings.Join(stmtNames(), ", "), toks[0].text)
	}
	if err := f.split(toks[1:]); err != nil {
		return nil, err
	}
	st, err := parse(f, at)
	if err != nil {
		return nil, err
	}
	return st, f.done()
}

// fields holds a statement's key=value fields and bare words.
type fields struct {
	p       *lineParser
	verb    string
	verbCol int
	keys    []string
	kv      map[string]token // value tokens; col is the key's column
	words   []token
	used    map[string]bool
	wordUse []bool
}

func (f *fields) split(toks []token) error {
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
			return f.p.errAt(t.col, "%s: want key=value, found %q", f.verb, t.text)
		}
		if _, dup := f.kv[k]; dup {
			return f.p.errAt(t.col, "%s: field %s= given twice", f.verb, k)
		}
		f.keys = append(f.keys, k)
		f.kv[k] = token{text: v, col: t.col}
	}
	f.wordUse = make([]bool, len(f.words))
	return nil
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
func (f *fields) num(key string, bits int) (uint64, error) {
	t, ok := f.kv[key]
	if !ok {
		return 0, f.p.errAt(f.endCol(), "%s: want field %s=, found end of line", f.verb, key)
	}
	f.used[key] = true
	return f.p.parseNum(f.verb, key, t, bits)
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
func (f *fields) optNum(key string, bits int, def uint64) (uint64, error) {
	if !f.has(key) {
		return def, nil
	}
	return f.num(key, bits)
}

// alias returns the first of keys given (all of them marked used if more
// than one is given it is an error).
func (f *fields) alias(keys ...string) (string, error) {
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

// word returns the index of the first unused bare word equal to one of
// choices, or -1.
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

// done fails on fields or words the statement did not use.
func (f *fields) done() error {
	for _, k := range f.keys {
		if !f.used[k] {
			return f.p.errAt(f.kv[k].col, "%s: unexpected field %s=", f.verb, k)
		}
	}
	for i, w := range f.words {
		if !f.wordUse[i] {
			return f.p.errAt(w.col, "%s: unexpected word %q", f.verb, w.text)
		}
	}
	return nil
}

type parseFunc func(f *fields, at At) (Stmt, error)

var stmtParsers map[string]parseFunc
var expectParsers map[string]parseFunc

func stmtNames() []string {
	names := []string{"expect", "raw", "repeat"}
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
		"stalled":    parseExpectStalled,
		"notstalled": parseExpectStalled,
		"dte":        parseExpectDTE,
		"ite":        parseExpectITE,
		"cte":        parseExpectCTE,
	}
}

// positional returns the one bare word a statement like `cpus 2` takes.
func (f *fields) positional(what string) (token, error) {
	t, ok := f.nextWord()
	if !ok {
		return token{}, f.p.errAt(f.endCol(), "%s: want %s, found end of line", f.verb, what)
	}
	return t, nil
}

func parseCPUs(f *fields, at At) (Stmt, error) {
	t, err := f.positional("a number of CPUs")
	if err != nil {
		return nil, err
	}
	n, err := f.p.parseNum(f.verb, "count", t, 64)
	if err != nil || n < 1 || n > 32 {
		return nil, f.p.errAt(t.col, "cpus: want a number of CPUs 1..32, found %q", t.text)
	}
	return &CPUsStmt{At: at, N: int(n)}, nil
}

func parsePolicy(f *fields, at At) (Stmt, error) {
	w, ok := f.word("stall", "continue")
	if !ok {
		return nil, f.p.errAt(f.endCol(), "policy: want stall or continue")
	}
	s := &PolicyStmt{At: at}
	if w == "stall" {
		s.Policy = model.StallOnError
	}
	return s, nil
}

func parseCache(f *fields, at At) (Stmt, error) {
	w, ok := f.word("on", "off")
	if !ok {
		return nil, f.p.errAt(f.endCol(), "cache: want on or off")
	}
	return &CacheStmt{At: at, Off: w == "off"}, nil
}

func parseQueue(f *fields, at At) (Stmt, error) {
	n, err := f.num("pages", 9)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > 256 {
		return nil, f.p.errAt(f.kv["pages"].col, "queue: pages=%d: want 1..256 4 KiB pages", n)
	}
	return &QueueStmt{At: at, Pages: int(n)}, nil
}

func parseTable(f *fields, at At) (Stmt, error) {
	s := &TableStmt{At: at, Collections: f.verb == "colltable"}
	if !s.Collections {
		w, ok := f.word("flat", "indirect")
		if !ok {
			return nil, f.p.errAt(f.verbCol+len(f.verb)+1, "devtable: want flat or indirect")
		}
		s.Indirect = w == "indirect"
	}
	if t, ok := f.str("pagesize"); ok {
		switch t.text {
		case "4k", "4096":
			s.PageSize = model.PageSize4K
		case "16k", "16384":
			s.PageSize = model.PageSize16K
		case "64k", "65536":
			s.PageSize = model.PageSize64K
		default:
			return nil, f.p.errAt(t.col, "%s: pagesize= wants 4k, 16k or 64k, found %q", f.verb, t.text)
		}
	}
	if f.has("pages") {
		n, err := f.num("pages", 9)
		if err != nil {
			return nil, err
		}
		if n < 1 || n > 256 {
			return nil, f.p.errAt(f.kv["pages"].col, "%s: pages=%d: want 1..256", f.verb, n)
		}
		s.Pages = int(n)
	}
	if t, ok := f.str("l2"); ok {
		if s.Collections || !s.Indirect {
			return nil, f.p.errAt(t.col, "%s: l2= is for an indirect device table", f.verb)
		}
		switch t.text {
		case "auto":
		case "manual":
			s.ManualL2 = true
		default:
			return nil, f.p.errAt(t.col, "%s: l2= wants auto or manual, found %q", f.verb, t.text)
		}
	}
	return s, nil
}

func (f *fields) intid(key string) (model.INTID, error) {
	v, err := f.num(key, 32)
	return model.INTID(v), err
}

func (f *fields) cpu(keys ...string) (model.CPU, error) {
	if len(keys) == 0 {
		keys = []string{"cpu"}
	}
	k, err := f.alias(keys...)
	if err != nil {
		return 0, err
	}
	v, err := f.num(k, 32)
	return model.CPU(v), err
}

func (f *fields) dev() (model.DeviceID, error) {
	v, err := f.num("dev", 32)
	return model.DeviceID(v), err
}

func (f *fields) ev() (model.EventID, error) {
	v, err := f.num("ev", 32)
	return model.EventID(v), err
}

func (f *fields) icid() (model.ICID, error) {
	v, err := f.num("icid", 16)
	return model.ICID(v), err
}

func parseLPI(f *fields, at At) (Stmt, error) {
	t, err := f.positional("an LPI INTID or range FIRST..LAST")
	if err != nil {
		return nil, err
	}
	lo, hi, isRange := strings.Cut(t.text, "..")
	first, err := f.p.parseNum("lpi", "INTID", token{lo, t.col}, 32)
	if err != nil {
		return nil, err
	}
	last := first
	if isRange {
		if last, err = f.p.parseNum("lpi", "INTID", token{hi, t.col + len(lo) + 2}, 32); err != nil {
			return nil, err
		}
	}
	if first < uint64(model.LPIBase) || last < first || last-first >= 1<<16 {
		return nil, f.p.errAt(t.col, "lpi: want an LPI INTID (8192 and up) or a range FIRST..LAST of at most 65536, found %q", t.text)
	}
	prio, err := f.num("prio", 8)
	if err != nil {
		return nil, err
	}
	w, ok := f.word("enabled", "disabled")
	if !ok {
		return nil, f.p.errAt(f.endCol(), "lpi: want enabled or disabled")
	}
	return &LPIStmt{At: at, First: model.INTID(first), Last: model.INTID(last), Config: model.MakeLPIConfig(uint8(prio), w == "enabled")}, nil
}

func parseEnableLPIs(f *fields, at At) (Stmt, error) {
	if _, ok := f.word("all"); ok {
		return &EnableLPIsStmt{At: at, All: true}, nil
	}
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	return &EnableLPIsStmt{At: at, CPU: cpu}, nil
}

func (f *fields) valid() (bool, error) {
	v, err := f.optNum("valid", 1, 1)
	return v == 1, err
}

func parseMAPD(f *fields, at At) (Stmt, error) {
	dev, err := f.dev()
	if err != nil {
		return nil, err
	}
	valid, err := f.valid()
	if err != nil {
		return nil, err
	}
	c := model.MAPD{DeviceID: dev, Valid: valid}
	if !valid {
		// A MAPD with V=0 may still carry the other fields (raw form).
		if f.has("bits") {
			b, err := f.num("bits", 6)
			if err != nil {
				return nil, err
			}
			if b < 1 || b > 32 {
				return nil, f.p.errAt(f.kv["bits"].col, "mapd: bits=%d: want 1..32 EventID bits", b)
			}
			c.Size = uint8(b - 1)
		}
		return &CommandStmt{At: at, Cmd: c}, nil
	}
	var bits uint64
	if f.has("size") && !f.has("bits") {
		s, err := f.num("size", 5)
		if err != nil {
			return nil, err
		}
		bits = s + 1
	} else {
		if bits, err = f.num("bits", 6); err != nil {
			return nil, err
		}
		if bits < 1 || bits > 32 {
			return nil, f.p.errAt(f.kv["bits"].col, "mapd: bits=%d: want 1..32 EventID bits", bits)
		}
	}
	c.Size = uint8(bits - 1)
	s := &CommandStmt{At: at, Cmd: c, AutoITT: true}
	if f.has("itt") {
		a, err := f.num("itt", 52)
		if err != nil {
			return nil, err
		}
		if a%256 != 0 {
			return nil, f.p.errAt(f.kv["itt"].col, "mapd: itt=%#x: want a 256-byte aligned address", a)
		}
		c.ITTAddr = model.GPA(a)
		s.Cmd, s.AutoITT = c, false
	}
	return s, nil
}

func parseMAPC(f *fields, at At) (Stmt, error) {
	icid, err := f.icid()
	if err != nil {
		return nil, err
	}
	valid, err := f.valid()
	if err != nil {
		return nil, err
	}
	c := model.MAPC{ICID: icid, Valid: valid}
	if valid || f.has("cpu") || f.has("rdbase") {
		k, err := f.alias("cpu", "rdbase")
		if err != nil {
			return nil, err
		}
		if c.RDbase, err = f.num(k, 36); err != nil {
			return nil, err
		}
	}
	return &CommandStmt{At: at, Cmd: c}, nil
}

// devEv parses the dev= and ev= fields every event command has.
func devEv(f *fields) (model.DeviceID, model.EventID, error) {
	dev, err := f.dev()
	if err != nil {
		return 0, 0, err
	}
	ev, err := f.ev()
	return dev, ev, err
}

func parseMAPTI(f *fields, at At) (Stmt, error) {
	dev, ev, err := devEv(f)
	if err != nil {
		return nil, err
	}
	lpi, err := f.intid("lpi")
	if err != nil {
		return nil, err
	}
	icid, err := f.icid()
	if err != nil {
		return nil, err
	}
	return &CommandStmt{At: at, Cmd: model.MAPTI{DeviceID: dev, EventID: ev, INTID: lpi, ICID: icid}}, nil
}

// parseEventICIDCmd parses MAPI and MOVI: an event and a collection.
func parseEventICIDCmd(f *fields, at At) (Stmt, error) {
	dev, ev, err := devEv(f)
	if err != nil {
		return nil, err
	}
	icid, err := f.icid()
	if err != nil {
		return nil, err
	}
	if f.verb == "mapi" {
		return &CommandStmt{At: at, Cmd: model.MAPI{DeviceID: dev, EventID: ev, ICID: icid}}, nil
	}
	return &CommandStmt{At: at, Cmd: model.MOVI{DeviceID: dev, EventID: ev, ICID: icid}}, nil
}

// parseEventCmd parses DISCARD, INV, INT and CLEAR: an event, nothing else.
func parseEventCmd(f *fields, at At) (Stmt, error) {
	dev, ev, err := devEv(f)
	if err != nil {
		return nil, err
	}
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
	return &CommandStmt{At: at, Cmd: c}, nil
}

func parseINVALL(f *fields, at At) (Stmt, error) {
	icid, err := f.icid()
	if err != nil {
		return nil, err
	}
	return &CommandStmt{At: at, Cmd: model.INVALL{ICID: icid}}, nil
}

func parseSYNC(f *fields, at At) (Stmt, error) {
	k, err := f.alias("cpu", "rdbase")
	if err != nil {
		return nil, err
	}
	rd, err := f.num(k, 36)
	if err != nil {
		return nil, err
	}
	return &CommandStmt{At: at, Cmd: model.SYNC{RDbase: rd}}, nil
}

func parseMOVALL(f *fields, at At) (Stmt, error) {
	k1, err := f.alias("from", "rdbase1")
	if err != nil {
		return nil, err
	}
	k2, err := f.alias("to", "rdbase2")
	if err != nil {
		return nil, err
	}
	r1, err := f.num(k1, 36)
	if err != nil {
		return nil, err
	}
	r2, err := f.num(k2, 36)
	if err != nil {
		return nil, err
	}
	return &CommandStmt{At: at, Cmd: model.MOVALL{RDbase1: r1, RDbase2: r2}}, nil
}

func parseL2Page(f *fields, at At) (Stmt, error) {
	dev, err := f.dev()
	if err != nil {
		return nil, err
	}
	return &L2PageStmt{At: at, Dev: dev}, nil
}

func (f *fields) devIDMode() (DevIDMode, error) {
	t, ok := f.str("devid")
	if !ok {
		return DevIDAuto, nil
	}
	switch t.text {
	case "auto":
		return DevIDAuto, nil
	case "none":
		return DevIDNone, nil
	case "valid":
		return DevIDValid, nil
	}
	return 0, f.p.errAt(t.col, "%s: devid= wants auto, none or valid, found %q", f.verb, t.text)
}

func parseMSI(f *fields, at At) (Stmt, error) {
	dev, err := f.dev()
	if err != nil {
		return nil, err
	}
	ev, err := f.ev()
	if err != nil {
		return nil, err
	}
	mode, err := f.devIDMode()
	if err != nil {
		return nil, err
	}
	db, err := f.optNum("doorbell", 64, 0)
	if err != nil {
		return nil, err
	}
	return &MSIStmt{At: at, Dev: dev, Ev: ev, DevID: mode, Doorbell: model.GPA(db)}, nil
}

func (f *fields) gsi() (model.GSI, error) {
	v, err := f.num("gsi", 32)
	if err == nil && v >= model.MaxGSIRoutes {
		return 0, f.p.errAt(f.kv["gsi"].col, "%s: gsi=%d: want 0..%d", f.verb, v, model.MaxGSIRoutes-1)
	}
	return model.GSI(v), err
}

func parseRoute(f *fields, at At) (Stmt, error) {
	gsi, err := f.gsi()
	if err != nil {
		return nil, err
	}
	dev, err := f.dev()
	if err != nil {
		return nil, err
	}
	ev, err := f.ev()
	if err != nil {
		return nil, err
	}
	mode, err := f.devIDMode()
	if err != nil {
		return nil, err
	}
	return &RouteStmt{At: at, GSI: gsi, Dev: dev, Ev: ev, DevID: mode}, nil
}

func parseTrigger(f *fields, at At) (Stmt, error) {
	gsi, err := f.gsi()
	if err != nil {
		return nil, err
	}
	return &TriggerStmt{At: at, GSI: gsi}, nil
}

func parseAck(f *fields, at At) (Stmt, error) {
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	return &AckStmt{At: at, CPU: cpu}, nil
}

func parseEOI(f *fields, at At) (Stmt, error) {
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	lpi, err := f.optNum("lpi", 32, 0)
	if err != nil {
		return nil, err
	}
	return &EOIStmt{At: at, CPU: cpu, LPI: model.INTID(lpi)}, nil
}

func parsePMR(f *fields, at At) (Stmt, error) {
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	v, err := f.num("value", 8)
	if err != nil {
		return nil, err
	}
	return &PMRStmt{At: at, CPU: cpu, Value: uint8(v)}, nil
}

func parseInvLPIR(f *fields, at At) (Stmt, error) {
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	lpi, err := f.intid("lpi")
	if err != nil {
		return nil, err
	}
	return &InvLPIRStmt{At: at, CPU: cpu, LPI: lpi}, nil
}

func parseInvAllR(f *fields, at At) (Stmt, error) {
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	return &InvAllRStmt{At: at, CPU: cpu}, nil
}

var registers = map[string]Register{}

func init() {
	for _, r := range []model.ITSRegister{model.GITS_CTLR, model.GITS_IIDR, model.GITS_TYPER, model.GITS_CBASER, model.GITS_CWRITER, model.GITS_CREADR, model.GITS_PIDR2} {
		registers[r.String()] = Register{Name: r.String(), ITS: r}
	}
	for n := range 8 {
		r := model.GITS_BASER(n)
		registers[r.String()] = Register{Name: r.String(), ITS: r}
	}
	for _, r := range []model.GICRRegister{model.GICR_CTLR, model.GICR_IIDR, model.GICR_TYPER, model.GICR_PROPBASER, model.GICR_PENDBASER, model.GICR_INVLPIR, model.GICR_INVALLR, model.GICR_SYNCR} {
		registers[r.String()] = Register{Name: r.String(), GICR: r, IsRD: true}
	}
}

func (f *fields) register() (Register, error) {
	t, err := f.positional("a register name such as GITS_CTLR or GICR_CTLR")
	if err != nil {
		return Register{}, err
	}
	r, ok := registers[strings.ToUpper(t.text)]
	if !ok {
		names := make([]string, 0, len(registers))
		for n := range registers {
			names = append(names, n)
		}
		slices.Sort(names)
		return Register{}, f.p.errAt(t.col, "%s: want a register (%s), found %q", f.verb, strings.Join(names, ", "), t.text)
	}
	return r, nil
}

func parseWrite(f *fields, at At) (Stmt, error) {
	r, err := f.register()
	if err != nil {
		return nil, err
	}
	s := &WriteRegStmt{At: at, Reg: r}
	if r.IsRD {
		if s.CPU, err = f.cpu(); err != nil {
			return nil, err
		}
	}
	if s.Value, err = f.num("value", 64); err != nil {
		return nil, err
	}
	return s, nil
}

func parsePoke(f *fields, at At) (Stmt, error) {
	a, err := f.num("addr", 64)
	if err != nil {
		return nil, err
	}
	v, err := f.num("value", 64)
	if err != nil {
		return nil, err
	}
	return &PokeStmt{At: at, Addr: model.GPA(a), Value: v}, nil
}

func parseSave(f *fields, at At) (Stmt, error) { return &SaveStmt{At: at}, nil }

func parseRestore(f *fields, at At) (Stmt, error) {
	_, inplace := f.word("inplace")
	return &RestoreStmt{At: at, InPlace: inplace}, nil
}

func (f *fields) intidList(key string) ([]model.INTID, error) {
	t, ok := f.kv[key]
	if !ok {
		return nil, f.p.errAt(f.endCol(), "%s: want field %s=, found end of line", f.verb, key)
	}
	f.used[key] = true
	var ids []model.INTID
	col := t.col + len(key) + 1
	for part := range strings.SplitSeq(t.text, ",") {
		v, err := f.p.parseNum(f.verb, key, token{part, col}, 32)
		if err != nil {
			return nil, err
		}
		ids = append(ids, model.INTID(v))
		col += len(part) + 1
	}
	return ids, nil
}

func parseExpectPending(f *fields, at At) (Stmt, error) {
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	s := &ExpectPendingStmt{At: at, CPU: cpu}
	switch f.verb {
	case "expect idle":
		s.Exact = true
		return s, nil
	case "expect notpending":
		s.Not = true
		s.LPIs, err = f.intidList("lpi")
		return s, err
	}
	if f.has("lpis") {
		s.Exact = true
		s.LPIs, err = f.intidList("lpis")
		return s, err
	}
	s.LPIs, err = f.intidList("lpi")
	return s, err
}

func parseExpectAck(f *fields, at At) (Stmt, error) {
	cpu, err := f.cpu()
	if err != nil {
		return nil, err
	}
	s := &ExpectAckStmt{At: at, CPU: cpu}
	if _, ok := f.word("spurious"); ok {
		s.LPI = model.SpuriousINTID
		return s, nil
	}
	if !f.has("lpi") {
		return nil, f.p.errAt(f.endCol(), "expect ack: want lpi=N or spurious, found end of line")
	}
	s.LPI, err = f.intid("lpi")
	return s, err
}

func parseExpectMSI(f *fields, at At) (Stmt, error) {
	w, ok := f.word("delivered", "blocked")
	if !ok {
		return nil, f.p.errAt(f.endCol(), "expect msi: want delivered or blocked")
	}
	s := &ExpectMSIStmt{At: at, Want: model.Blocked}
	if w == "delivered" {
		s.Want = model.Delivered
	}
	return s, nil
}

func parseExpectError(f *fields, at At) (Stmt, error) {
	t, err := f.positional("an ITS error code such as E_ITS_MAPD_DEVICE_OOR")
	if err != nil {
		return nil, err
	}
	code, err := model.ParseErrorCode(t.text)
	if err != nil {
		return nil, f.p.errAt(t.col, "expect error: want an ITS error code such as E_ITS_MAPD_DEVICE_OOR or 0x010801, found %q", t.text)
	}
	return &ExpectErrorStmt{At: at, Code: code}, nil
}

func parseExpectFail(f *fields, at At) (Stmt, error) {
	s := &ExpectFailStmt{At: at}
	if w, ok := f.word(failKindNames...); ok {
		s.Kind = FailKind(slices.Index(failKindNames, w))
	}
	return s, nil
}

func parseExpectReg(f *fields, at At) (Stmt, error) {
	r, err := f.register()
	if err != nil {
		return nil, err
	}
	s := &ExpectRegStmt{At: at, Reg: r}
	if r.IsRD {
		if s.CPU, err = f.cpu(); err != nil {
			return nil, err
		}
	}
	if s.Value, err = f.num("value", 64); err != nil {
		return nil, err
	}
	if s.Mask, err = f.optNum("mask", 64, 0); err != nil {
		return nil, err
	}
	return s, nil
}

func parseExpectStalled(f *fields, at At) (Stmt, error) {
	s := &ExpectRegStmt{At: at, Reg: registers["GITS_CREADR"], Mask: model.GITS_CREADR_Stalled}
	if f.verb == "expect stalled" {
		s.Value = 1
	}
	return s, nil
}

func optInt(f *fields, key string, bits int) (*int, error) {
	if !f.has(key) {
		return nil, nil
	}
	v, err := f.num(key, bits)
	if err != nil {
		return nil, err
	}
	n := int(v)
	return &n, nil
}

func parseExpectDTE(f *fields, at At) (Stmt, error) {
	dev, err := f.dev()
	if err != nil {
		return nil, err
	}
	s := &ExpectDTEStmt{At: at, Dev: dev}
	if _, ok := f.word("invalid"); ok {
		s.Invalid = true
		return s, nil
	}
	if s.Bits, err = optInt(f, "bits", 6); err != nil {
		return nil, err
	}
	if f.has("itt") {
		a, err := f.num("itt", 64)
		if err != nil {
			return nil, err
		}
		g := model.GPA(a)
		s.ITT = &g
	}
	if s.Next, err = optInt(f, "next", 14); err != nil {
		return nil, err
	}
	return s, nil
}

func parseExpectITE(f *fields, at At) (Stmt, error) {
	dev, err := f.dev()
	if err != nil {
		return nil, err
	}
	ev, err := f.ev()
	if err != nil {
		return nil, err
	}
	s := &ExpectITEStmt{At: at, Dev: dev, Ev: ev}
	if _, ok := f.word("invalid"); ok {
		s.Invalid = true
		return s, nil
	}
	if f.has("lpi") {
		v, err := f.intid("lpi")
		if err != nil {
			return nil, err
		}
		s.LPI = &v
	}
	if f.has("icid") {
		v, err := f.icid()
		if err != nil {
			return nil, err
		}
		s.ICID = &v
	}
	if s.Next, err = optInt(f, "next", 16); err != nil {
		return nil, err
	}
	return s, nil
}

func parseExpectCTE(f *fields, at At) (Stmt, error) {
	icid, err := f.icid()
	if err != nil {
		return nil, err
	}
	s := &ExpectCTEStmt{At: at, ICID: icid}
	if w, ok := f.word("unmapped", "absent"); ok {
		s.State = CTEUnmapped
		if w == "absent" {
			s.State = CTEAbsent
		}
		return s, nil
	}
	k, err := f.alias("cpu", "rdbase")
	if err != nil {
		return nil, f.p.errAt(f.endCol(), "expect cte: want cpu=N, unmapped or absent, found end of line")
	}
	s.CPU, err = f.num(k, 36)
	return s, err
}
