package inspect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/gicits/gicits/model"
)

// Problem is one thing wrong with the input at a byte offset: a field that
// does not decode (Fatal) or a value the decoder accepts but a person should
// know about, such as RES0 bits that are set (not Fatal).
type Problem struct {
	// Offset is the byte offset in the input (for a command queue, the
	// queue offset; for a table, the offset from the table's start).
	Offset uint64
	// Field names the field at fault with its bits, for example
	// "DW2[7:0] (RES0)" or "opcode DW0[7:0]".
	Field string
	// Msg says what is wrong.
	Msg string
	// Fatal: the packet or entry could not be decoded.
	Fatal bool
}

func (p Problem) Error() string {
	kind := "warning"
	if p.Fatal {
		kind = "error"
	}
	return fmt.Sprintf("%s: byte %#x, %s: %s", kind, p.Offset, p.Field, p.Msg)
}

// CommandLine is one decoded command packet of a queue or a list.
type CommandLine struct {
	// Offset is the packet's byte offset in the command queue.
	Offset uint64
	Packet model.Packet
	// Command is the decoded command, nil when it does not decode.
	Command model.Command
	// Problems lists what is wrong with the packet, in byte order.
	Problems []Problem
}

// Empty reports whether the packet is all zero: an unused queue slot.
func (l CommandLine) Empty() bool { return l.Packet == model.Packet{} }

// usedBits gives, per opcode, the bits of DW0..DW3 that the command uses;
// every other bit is RES0 (IHI 0069, 6.3, one figure per command; for the
// GICv4 commands IHI 0069H, 5.3, as model/vcommand.go lists them, GICv4.1
// fields included).
var usedBits = func() map[model.Opcode][4]uint64 {
	const (
		op     = 0xFF
		devID  = uint64(0xFFFFFFFF) << 32
		evID   = 0xFFFFFFFF
		icid   = 0xFFFF
		rdbase = uint64(1<<36-1) << 16
		valid  = uint64(1) << 63
		itt    = uint64(1<<44-1) << 8
		vpeid  = uint64(0xFFFF) << 32
		vaddr  = uint64(1<<36-1) << 16 // VPT_addr, VCONF_addr: PA[51:16]
		hi32   = uint64(0xFFFFFFFF) << 32
		lo32   = 0xFFFFFFFF
		vsgi   = op | 0x7<<8 | 0xF<<20 | 0xF<<32 // Enable, Clear, Group, Priority, vINTID
	)
	return map[model.Opcode][4]uint64{
		model.OpMAPD:    {op | devID, 0x1F, valid | itt, 0},
		model.OpMAPC:    {op, 0, valid | rdbase | icid, 0},
		model.OpMAPTI:   {op | devID, ^uint64(0), icid, 0},
		model.OpMAPI:    {op | devID, evID, icid, 0},
		model.OpMOVI:    {op | devID, evID, icid, 0},
		model.OpDISCARD: {op | devID, evID, 0, 0},
		model.OpINV:     {op | devID, evID, 0, 0},
		model.OpINT:     {op | devID, evID, 0, 0},
		model.OpCLEAR:   {op | devID, evID, 0, 0},
		model.OpINVALL:  {op, 0, icid, 0},
		model.OpSYNC:    {op, 0, rdbase, 0},
		model.OpMOVALL:  {op, 0, rdbase, rdbase},

		model.OpVMAPP:   {op | 0x3<<8 | vaddr, vpeid | lo32, valid | rdbase, 0xFF | vaddr},
		model.OpVMAPTI:  {op | devID, vpeid | evID, ^uint64(0), 0},
		model.OpVMAPI:   {op | devID, vpeid | evID, hi32, 0},
		model.OpVMOVI:   {op | devID, vpeid | evID, hi32 | 1, 0},
		model.OpVMOVP:   {op | 0xFFFF<<32, vpeid | 0xFFFF, valid | rdbase, lo32},
		model.OpVSYNC:   {op, vpeid, 0, 0},
		model.OpVINVALL: {op, vpeid, 0, 0},
		model.OpINVDB:   {op, vpeid, 0, 0},
		model.OpVSGI:    {vsgi, vpeid, 0, 0},
	}
}()

// DecodeCommand decodes one packet found at queue offset off, checking
// every field: an opcode that is not an ITS command (GICv3 or GICv4) is an
// error naming byte 0; RES0 bits that are set, a pINTID below the LPI
// range, an ITT size beyond what KVM implements and a VMAPP VPT_size
// beyond 32 vINTID bits are warnings naming the byte and field. GICv4
// commands decode in full, although neither backend executes them.
// An all-zero packet is an empty slot: no command and no problem.
func DecodeCommand(p model.Packet, off uint64) CommandLine {
	l := CommandLine{Offset: off, Packet: p}
	if l.Empty() {
		return l // an unused queue slot: nothing to decode, nothing wrong
	}
	cmd, err := model.DecodeCommand(p)
	if err != nil {
		var oe *model.OpcodeError
		msg := err.Error()
		if errors.As(err, &oe) {
			msg = fmt.Sprintf("%#02x is not an ITS command opcode", uint8(oe.Opcode))
		}
		l.Problems = append(l.Problems, Problem{Offset: off, Field: "opcode DW0[7:0]", Msg: msg, Fatal: true})
		return l
	}
	l.Command = cmd
	used := usedBits[p.Opcode()]
	for i := range 4 {
		if bad := p.DW(i) &^ used[i]; bad != 0 {
			lo, hi := bits.TrailingZeros64(bad), 63-bits.LeadingZeros64(bad)
			l.Problems = append(l.Problems, Problem{
				Offset: off + uint64(8*i+lo/8),
				Field:  fmt.Sprintf("DW%d[%d:%d] (RES0)", i, hi, lo),
				Msg:    fmt.Sprintf("RES0 bits %#x are set; ignored, as KVM ignores them", bad),
			})
		}
	}
	switch c := cmd.(type) {
	case model.MAPTI:
		if !c.INTID.IsLPI() {
			l.Problems = append(l.Problems, Problem{
				Offset: off + 12, Field: "pINTID DW1[63:32]",
				Msg: fmt.Sprintf("%d is below the LPI range (8192): the ITS fails it with %v (IHI 0069, 6.3.13)", c.INTID, model.E_ITS_MAPTI_PHYSICALID_OOR),
			})
		}
	case model.MAPI:
		if !model.INTID(c.EventID).IsLPI() {
			l.Problems = append(l.Problems, Problem{
				Offset: off + 8, Field: "EventID DW1[31:0]",
				Msg: fmt.Sprintf("MAPI uses the EventID %d as the pINTID, and it is below the LPI range (8192): %v (IHI 0069, 6.3.12)", c.EventID, model.E_ITS_MAPI_PHYSICALID_OOR),
			})
		}
	case model.VMAPP:
		if c.Valid && c.VINTIDBits() > 32 {
			l.Problems = append(l.Problems, Problem{
				Offset: off + 24, Field: "VPT_size DW3[7:0]",
				Msg: fmt.Sprintf("%d vINTID bits: more than the 32 any GIC has; Linux encodes VPT_size in DW3[4:0], and in GICv4.0 the bits above are RES0 (IHI 0069H, 5.3.19)", c.VINTIDBits()),
			})
		}
	case model.MAPD:
		if c.Valid && c.EventIDBits() > model.KVMITSTyper.EventIDBits() {
			l.Problems = append(l.Problems, Problem{
				Offset: off + 8, Field: "Size DW1[4:0]",
				Msg: fmt.Sprintf("%d EventID bits exceed the %d of GITS_TYPER.ID_bits on KVM: %v (IHI 0069, 6.3.11)", c.EventIDBits(), model.KVMITSTyper.EventIDBits(), model.E_ITS_MAPD_ITTSIZE_OOR),
			})
		}
	}
	return l
}

// DecodeQueue decodes a command queue dump: one [CommandLine] per 32 bytes,
// the first at queue offset start. Trailing bytes that do not make a whole
// packet become a line with a fatal Problem. Decoding never stops early.
func DecodeQueue(data []byte, start uint64) []CommandLine {
	lines := make([]CommandLine, 0, len(data)/model.CommandSize+1)
	off := uint64(0)
	for ; len(data)-int(off) >= model.CommandSize; off += model.CommandSize {
		var p model.Packet
		copy(p[:], data[off:])
		lines = append(lines, DecodeCommand(p, start+off))
	}
	if rest := len(data) - int(off); rest > 0 {
		lines = append(lines, CommandLine{Offset: start + off, Problems: []Problem{{
			Offset: start + off, Field: "packet",
			Msg:   fmt.Sprintf("%d trailing bytes: a command packet is 32 bytes", rest),
			Fatal: true,
		}}})
	}
	return lines
}

// QueueMarks are the queue offsets a listing points out.
type QueueMarks struct {
	CREADR, CWRITER uint64
	// Set says the offsets are known.
	Set bool
}

// MarkQueue returns the marks of GITS_CREADR and GITS_CWRITER values:
// their queue offsets, bits [19:5] (IHI 0069 12.19.3, 12.19.4).
func MarkQueue(creadr, cwriter uint64) QueueMarks {
	return QueueMarks{CREADR: creadr & model.GITS_CQ_OffsetMask, CWRITER: cwriter & model.GITS_CQ_OffsetMask, Set: true}
}

// WriteCommands writes one line per command: its queue offset, its
// mnemonic (or "error"), then one indented line per problem. Runs of empty
// (all-zero) slots are folded into one line; with marks set, the lines at
// GITS_CREADR and GITS_CWRITER say so.
func WriteCommands(w io.Writer, lines []CommandLine, marks QueueMarks) error {
	var b strings.Builder
	mark := func(off uint64) string {
		if !marks.Set {
			return ""
		}
		var m []string
		if off == marks.CREADR {
			m = append(m, "GITS_CREADR")
		}
		if off == marks.CWRITER {
			m = append(m, "GITS_CWRITER")
		}
		if len(m) == 0 {
			return ""
		}
		return "   <- " + strings.Join(m, ", ")
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.Empty() && len(l.Problems) == 0 {
			j := i
			for j+1 < len(lines) && lines[j+1].Empty() && len(lines[j+1].Problems) == 0 && mark(lines[j+1].Offset) == "" {
				j++
			}
			if j == i {
				fmt.Fprintf(&b, "0x%04x  (empty slot)%s\n", l.Offset, mark(l.Offset))
			} else {
				fmt.Fprintf(&b, "0x%04x  (%d empty slots, to 0x%04x)%s\n", l.Offset, j-i+1, lines[j].Offset, mark(l.Offset))
			}
			i = j
			continue
		}
		switch {
		case l.Command != nil:
			fmt.Fprintf(&b, "0x%04x  %v%s\n", l.Offset, l.Command, mark(l.Offset))
		case l.Packet != model.Packet{}:
			fmt.Fprintf(&b, "0x%04x  undecodable [%s]%s\n", l.Offset, l.Packet.Hex(), mark(l.Offset))
		default:
			fmt.Fprintf(&b, "0x%04x  undecodable%s\n", l.Offset, mark(l.Offset))
		}
		for _, p := range l.Problems {
			fmt.Fprintf(&b, "        %v\n", p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ParseHex reads hexadecimal text: digits in memory order, with white
// space, underscores, "0x" prefixes and '#' comments (to the end of the
// line) ignored. Every other character is reported with its line and
// column and skipped, so one typo costs at most the packet it is in.
// An odd number of digits leaves the last one out, reported.
func ParseHex(text string) ([]byte, []error) {
	var (
		out    []byte
		errs   []error
		hi     = -1
		line   = 1
		col    = 0
		inNote bool
	)
	for i := 0; i < len(text); i++ {
		c := text[i]
		col++
		if c == '\n' {
			line, col, inNote = line+1, 0, false
			continue
		}
		if inNote {
			continue
		}
		var v int
		switch {
		case c == '#':
			inNote = true
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '_' || c == ',':
			continue
		case c == '0' && i+1 < len(text) && (text[i+1] == 'x' || text[i+1] == 'X') && hi < 0:
			i++
			col++
			continue
		case '0' <= c && c <= '9':
			v = int(c - '0')
		case 'a' <= c && c <= 'f':
			v = int(c-'a') + 10
		case 'A' <= c && c <= 'F':
			v = int(c-'A') + 10
		default:
			errs = append(errs, fmt.Errorf("line %d col %d: %q is not a hexadecimal digit (skipped): %w", line, col, rune(c), model.ErrInvalidArgument))
			continue
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
		}
	}
	if hi >= 0 {
		errs = append(errs, fmt.Errorf("line %d: odd number of hexadecimal digits: the last one is left out: %w", line, model.ErrInvalidArgument))
	}
	return out, errs
}

// DecodeHexCommands decodes command packets written as hexadecimal text
// (see [ParseHex]), or as an xxd or od dump (see [ParseHexDump]); offsets
// are the dump's, and count from 0 in plain text.
func DecodeHexCommands(text string) ([]CommandLine, []error) {
	d, errs := ParseHexDump(text)
	lines := DecodeQueue(d.Data, d.Start)
	for i, l := range lines {
		if d.InGap(l.Offset, model.CommandSize) {
			lines[i].Problems = append(lines[i].Problems, Problem{Offset: l.Offset, Field: "packet", Msg: "part of it is missing from the dump (decoded as zeros): this is not what the queue holds", Fatal: true})
		}
	}
	return lines, errs
}

// DecodeCommandArgs decodes command packets given one per argument, each
// as hexadecimal text (see [ParseHex]). Argument i (from 0) is at offset
// 32*i, so a short or long one does not shift the packets after it: it
// becomes a line with a fatal Problem. Errors and problems name the
// argument, counting from 1.
func DecodeCommandArgs(args []string) ([]CommandLine, []error) {
	var lines []CommandLine
	var errs []error
	for i, arg := range args {
		off := uint64(i * model.CommandSize)
		data, argErrs := ParseHex(arg)
		for _, err := range argErrs {
			errs = append(errs, fmt.Errorf("argument %d: %w", i+1, err))
		}
		if len(data) != model.CommandSize {
			lines = append(lines, CommandLine{Offset: off, Problems: []Problem{{
				Offset: off, Field: "packet", Fatal: true,
				Msg: fmt.Sprintf("argument %d holds %d bytes; a command packet is 32 (64 hex digits)", i+1, len(data)),
			}}})
			continue
		}
		var p model.Packet
		copy(p[:], data)
		lines = append(lines, DecodeCommand(p, off))
	}
	return lines, errs
}

// le64 reads a little-endian doubleword; a short slice reads as zero-padded.
func le64(b []byte) uint64 {
	var buf [8]byte
	copy(buf[:], b)
	return binary.LittleEndian.Uint64(buf[:])
}
