package model

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Packet is one ITS command as it sits in the command queue: 32 bytes, four
// little-endian doublewords DW0..DW3 (IHI 0069, 6.2 "The ITS command
// interface").
//
//	DW0  63            32 31        8 7      0
//	     |   DeviceID    |   RES0    | opcode |
//	DW1  63            32 31                 0
//	     |  pINTID       |      EventID       |    (MAPD: Size in 4:0)
//	DW2  63 62   52 51                16 15   0
//	     |V |RES0 |  ITT_addr 51:8 / RDbase |ICID|
//	DW3  63      52 51              16 15    0
//	     |  RES0   |  RDbase2 (MOVALL) | RES0 |
//
// A Packet is itself a [Command], so a raw packet can be queued as is.
type Packet [32]byte

// DW returns doubleword i (0..3) of the packet.
func (p *Packet) DW(i int) uint64 { return binary.LittleEndian.Uint64(p[8*i:]) }

func (p *Packet) setDW(i int, v uint64) { binary.LittleEndian.PutUint64(p[8*i:], v) }

// Opcode returns the command's opcode byte, DW0[7:0].
func (p Packet) Opcode() Opcode { return Opcode(p[0]) }

// Encode returns the packet itself.
func (p Packet) Encode() (Packet, error) { return p, nil }

// Hex returns the packet as 64 hexadecimal digits, bytes in memory order.
func (p Packet) Hex() string { return hex.EncodeToString(p[:]) }

// String returns the decoded command's mnemonic form, or for a packet that
// does not decode, why, followed by its bytes.
func (p Packet) String() string {
	cmd, err := DecodeCommand(p)
	if err != nil {
		return fmt.Sprintf("%v [%s]", err, p.Hex())
	}
	return cmd.String()
}

// ParsePacket parses 64 hexadecimal digits (bytes in memory order; spaces,
// underscores and a 0x prefix are ignored) into a Packet.
func ParsePacket(s string) (Packet, error) {
	clean := strings.NewReplacer(" ", "", "_", "", "\t", "").Replace(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	var p Packet
	if len(clean) != 2*len(p) {
		return p, fmt.Errorf("command packet %q: want 64 hex digits (32 bytes), have %d: %w", s, len(clean), ErrInvalidArgument)
	}
	if _, err := hex.Decode(p[:], []byte(clean)); err != nil {
		return Packet{}, fmt.Errorf("command packet %q: %v: %w", s, err, ErrInvalidArgument)
	}
	return p, nil
}

// Opcode is an ITS command opcode (IHI 0069, 6.3 "ITS commands").
type Opcode uint8

// GICv3 physical commands.
const (
	OpMOVI    Opcode = 0x01
	OpINT     Opcode = 0x03
	OpCLEAR   Opcode = 0x04
	OpSYNC    Opcode = 0x05
	OpMAPD    Opcode = 0x08
	OpMAPC    Opcode = 0x09
	OpMAPTI   Opcode = 0x0A
	OpMAPI    Opcode = 0x0B
	OpINV     Opcode = 0x0C
	OpINVALL  Opcode = 0x0D
	OpMOVALL  Opcode = 0x0E
	OpDISCARD Opcode = 0x0F
)

// GICv4 virtual-LPI commands (IHI 0069H, 5.3; GICv4.1 adds VSGI and
// INVDB). The codec decodes them (see vcommand.go); neither backend
// executes them.
const (
	OpVMOVI   Opcode = 0x21
	OpVMOVP   Opcode = 0x22
	OpVSGI    Opcode = 0x23
	OpVSYNC   Opcode = 0x25
	OpVMAPP   Opcode = 0x29
	OpVMAPTI  Opcode = 0x2A
	OpVMAPI   Opcode = 0x2B
	OpVINVALL Opcode = 0x2D
	OpINVDB   Opcode = 0x2E
)

var opcodeNames = map[Opcode]string{
	OpMOVI: "MOVI", OpINT: "INT", OpCLEAR: "CLEAR", OpSYNC: "SYNC",
	OpMAPD: "MAPD", OpMAPC: "MAPC", OpMAPTI: "MAPTI", OpMAPI: "MAPI",
	OpINV: "INV", OpINVALL: "INVALL", OpMOVALL: "MOVALL", OpDISCARD: "DISCARD",
	OpVMOVI: "VMOVI", OpVMOVP: "VMOVP", OpVSGI: "VSGI", OpVSYNC: "VSYNC",
	OpVMAPP: "VMAPP", OpVMAPTI: "VMAPTI", OpVMAPI: "VMAPI", OpVINVALL: "VINVALL",
	OpINVDB: "INVDB",
}

// String returns the opcode's mnemonic, or "opcode 0xNN" for an unknown one.
func (o Opcode) String() string {
	if name, ok := opcodeNames[o]; ok {
		return name
	}
	return fmt.Sprintf("opcode %#02x", uint8(o))
}

// IsGICv4 reports whether o is a GICv4 (virtual LPI) command.
func (o Opcode) IsGICv4() bool { return o >= OpVMOVI && opcodeNames[o] != "" }

// OpcodeError says why a command's opcode was not executed or decoded: a
// GICv4 command that an ITS without GICv4 support refuses (wraps
// [ErrNotSupported]; the simulator reports it so, see package its), or an
// opcode the architecture does not define, which [DecodeCommand] returns
// (wraps [ErrInvalidArgument]).
type OpcodeError struct {
	Opcode Opcode
}

func (e *OpcodeError) Error() string {
	if e.Opcode.IsGICv4() {
		return fmt.Sprintf("%v (opcode %#02x): GICv4 command, known but not supported", e.Opcode, uint8(e.Opcode))
	}
	return fmt.Sprintf("unknown opcode %#02x", uint8(e.Opcode))
}

func (e *OpcodeError) Unwrap() error {
	if e.Opcode.IsGICv4() {
		return ErrNotSupported
	}
	return ErrInvalidArgument
}

// Command is an ITS command. Every GICv3 physical and GICv4 virtual command
// is a struct type in this package named after the command; [Packet] is a
// Command too.
type Command interface {
	// Opcode returns the command's opcode.
	Opcode() Opcode
	// Encode returns the 32-byte packet, or an error naming a field whose
	// value does not fit its encoding. It never truncates.
	Encode() (Packet, error)
	// String returns the mnemonic form, for example
	// "MAPTI dev=0x10 ev=1 lpi=8193 icid=1".
	String() string
}

// Field limits of the command encoding.
const (
	maxRDbase  = 1<<36 - 1 // RDbase, DW2[51:16]
	maxITTAddr = 1<<52 - 1 // ITT_addr, DW2[51:8]
	ittAlign   = 256       // ITT_addr holds bits 51:8
	sizeMask   = 0x1F      // MAPD Size, DW1[4:0]
	rdbaseMask = maxRDbase << 16
	ittMask    = uint64(maxITTAddr) &^ (ittAlign - 1)
	validBit   = uint64(1) << 63
)

func header(op Opcode, dev DeviceID) Packet {
	var p Packet
	p.setDW(0, uint64(dev)<<32|uint64(op))
	return p
}

func checkRDbase(name string, v uint64) error {
	if v > maxRDbase {
		return fmt.Errorf("%s %#x does not fit the 36-bit field DW2[51:16]: %w", name, v, ErrInvalidArgument)
	}
	return nil
}

// MAPD maps a device to its interrupt translation table, or unmaps it
// (IHI 0069, 6.3.11).
type MAPD struct {
	DeviceID DeviceID
	// Size is the number of EventID bits the ITT supports, minus one
	// (DW1[4:0]). Use [MAPD.EventIDBits] for the count.
	Size uint8
	// ITTAddr is the guest physical address of the ITT, 256-byte aligned
	// (DW2[51:8]).
	ITTAddr GPA
	// Valid maps the device when set; clear, it unmaps it (DW2[63]).
	Valid bool
}

// EventIDBits returns the number of EventID bits the ITT supports.
func (c MAPD) EventIDBits() int { return int(c.Size) + 1 }

func (MAPD) Opcode() Opcode { return OpMAPD }

func (c MAPD) Encode() (Packet, error) {
	if c.Size > sizeMask {
		return Packet{}, fmt.Errorf("MAPD: Size %d does not fit DW1[4:0] (EventID bits 1..32): %w", c.Size, ErrInvalidArgument)
	}
	if uint64(c.ITTAddr) > maxITTAddr || !c.ITTAddr.IsAligned(ittAlign) {
		return Packet{}, fmt.Errorf("MAPD: ITT_addr %v must be 256-byte aligned and below 2^52: %w", c.ITTAddr, ErrInvalidArgument)
	}
	p := header(OpMAPD, c.DeviceID)
	p.setDW(1, uint64(c.Size))
	dw2 := uint64(c.ITTAddr)
	if c.Valid {
		dw2 |= validBit
	}
	p.setDW(2, dw2)
	return p, nil
}

func (c MAPD) String() string {
	if !c.Valid {
		return fmt.Sprintf("MAPD dev=%#x valid=0", uint32(c.DeviceID))
	}
	return fmt.Sprintf("MAPD dev=%#x bits=%d itt=%v", uint32(c.DeviceID), c.EventIDBits(), c.ITTAddr)
}

// MAPC maps a collection to a redistributor, or unmaps it (IHI 0069, 6.3.10).
type MAPC struct {
	ICID ICID
	// RDbase is the target redistributor (DW2[51:16]): its processor number
	// when GITS_TYPER.PTA is 0, as on KVM; its physical address >> 16
	// otherwise.
	RDbase uint64
	Valid  bool
}

func (MAPC) Opcode() Opcode { return OpMAPC }

func (c MAPC) Encode() (Packet, error) {
	if err := checkRDbase("MAPC: RDbase", c.RDbase); err != nil {
		return Packet{}, err
	}
	p := header(OpMAPC, 0)
	dw2 := c.RDbase<<16 | uint64(c.ICID)
	if c.Valid {
		dw2 |= validBit
	}
	p.setDW(2, dw2)
	return p, nil
}

func (c MAPC) String() string {
	if !c.Valid {
		return fmt.Sprintf("MAPC icid=%d valid=0", c.ICID)
	}
	return fmt.Sprintf("MAPC icid=%d rdbase=%d", c.ICID, c.RDbase)
}

// MAPTI maps an event to a physical LPI and a collection (IHI 0069, 6.3.13).
type MAPTI struct {
	DeviceID DeviceID
	EventID  EventID
	INTID    INTID // pINTID, DW1[63:32]
	ICID     ICID
}

func (MAPTI) Opcode() Opcode { return OpMAPTI }

func (c MAPTI) Encode() (Packet, error) {
	p := header(OpMAPTI, c.DeviceID)
	p.setDW(1, uint64(c.INTID)<<32|uint64(c.EventID))
	p.setDW(2, uint64(c.ICID))
	return p, nil
}

func (c MAPTI) String() string {
	return fmt.Sprintf("MAPTI dev=%#x ev=%d lpi=%d icid=%d", uint32(c.DeviceID), c.EventID, c.INTID, c.ICID)
}

// MAPI maps an event to the LPI whose INTID equals the EventID
// (IHI 0069, 6.3.12).
type MAPI struct {
	DeviceID DeviceID
	EventID  EventID
	ICID     ICID
}

func (MAPI) Opcode() Opcode { return OpMAPI }

func (c MAPI) Encode() (Packet, error) {
	p := header(OpMAPI, c.DeviceID)
	p.setDW(1, uint64(c.EventID))
	p.setDW(2, uint64(c.ICID))
	return p, nil
}

func (c MAPI) String() string {
	return fmt.Sprintf("MAPI dev=%#x ev=%d icid=%d", uint32(c.DeviceID), c.EventID, c.ICID)
}

// MOVI moves an event's LPI to another collection (IHI 0069, 6.3.16).
type MOVI struct {
	DeviceID DeviceID
	EventID  EventID
	ICID     ICID
}

func (MOVI) Opcode() Opcode { return OpMOVI }

func (c MOVI) Encode() (Packet, error) {
	p := header(OpMOVI, c.DeviceID)
	p.setDW(1, uint64(c.EventID))
	p.setDW(2, uint64(c.ICID))
	return p, nil
}

func (c MOVI) String() string {
	return fmt.Sprintf("MOVI dev=%#x ev=%d icid=%d", uint32(c.DeviceID), c.EventID, c.ICID)
}

// eventPacket encodes the shape shared by DISCARD, INV, INT and CLEAR: a
// DeviceID and an EventID, nothing else.
func eventPacket(op Opcode, dev DeviceID, ev EventID) Packet {
	p := header(op, dev)
	p.setDW(1, uint64(ev))
	return p
}

func eventString(op Opcode, dev DeviceID, ev EventID) string {
	return fmt.Sprintf("%v dev=%#x ev=%d", op, uint32(dev), ev)
}

// DISCARD removes an event's mapping and its pending LPI (IHI 0069, 6.3.4).
type DISCARD struct {
	DeviceID DeviceID
	EventID  EventID
}

func (DISCARD) Opcode() Opcode            { return OpDISCARD }
func (c DISCARD) Encode() (Packet, error) { return eventPacket(OpDISCARD, c.DeviceID, c.EventID), nil }
func (c DISCARD) String() string          { return eventString(OpDISCARD, c.DeviceID, c.EventID) }

// INV makes the ITS and redistributor reload an event's LPI configuration
// from the property table (IHI 0069, 6.3.7).
type INV struct {
	DeviceID DeviceID
	EventID  EventID
}

func (INV) Opcode() Opcode            { return OpINV }
func (c INV) Encode() (Packet, error) { return eventPacket(OpINV, c.DeviceID, c.EventID), nil }
func (c INV) String() string          { return eventString(OpINV, c.DeviceID, c.EventID) }

// INT makes an event's LPI pending, as if the device had written the MSI
// (IHI 0069, 6.3.6).
type INT struct {
	DeviceID DeviceID
	EventID  EventID
}

func (INT) Opcode() Opcode            { return OpINT }
func (c INT) Encode() (Packet, error) { return eventPacket(OpINT, c.DeviceID, c.EventID), nil }
func (c INT) String() string          { return eventString(OpINT, c.DeviceID, c.EventID) }

// CLEAR removes the pending state of an event's LPI (IHI 0069, 6.3.2).
type CLEAR struct {
	DeviceID DeviceID
	EventID  EventID
}

func (CLEAR) Opcode() Opcode            { return OpCLEAR }
func (c CLEAR) Encode() (Packet, error) { return eventPacket(OpCLEAR, c.DeviceID, c.EventID), nil }
func (c CLEAR) String() string          { return eventString(OpCLEAR, c.DeviceID, c.EventID) }

// INVALL makes the redistributor of a collection reload the configuration
// of all its LPIs (IHI 0069, 6.3.8).
type INVALL struct {
	ICID ICID
}

func (INVALL) Opcode() Opcode { return OpINVALL }

func (c INVALL) Encode() (Packet, error) {
	p := header(OpINVALL, 0)
	p.setDW(2, uint64(c.ICID))
	return p, nil
}

func (c INVALL) String() string { return fmt.Sprintf("INVALL icid=%d", c.ICID) }

// SYNC waits until the effects of earlier commands on a redistributor are
// visible (IHI 0069, 6.3.19). In a functional model every command's effect
// is visible when it completes, so SYNC has no further effect.
type SYNC struct {
	RDbase uint64
}

func (SYNC) Opcode() Opcode { return OpSYNC }

func (c SYNC) Encode() (Packet, error) {
	if err := checkRDbase("SYNC: RDbase", c.RDbase); err != nil {
		return Packet{}, err
	}
	p := header(OpSYNC, 0)
	p.setDW(2, c.RDbase<<16)
	return p, nil
}

func (c SYNC) String() string { return fmt.Sprintf("SYNC rdbase=%d", c.RDbase) }

// MOVALL moves every LPI targeting redistributor RDbase1 to RDbase2
// (IHI 0069, 6.3.15).
type MOVALL struct {
	RDbase1 uint64 // DW2[51:16]
	RDbase2 uint64 // DW3[51:16]
}

func (MOVALL) Opcode() Opcode { return OpMOVALL }

func (c MOVALL) Encode() (Packet, error) {
	if err := checkRDbase("MOVALL: RDbase1", c.RDbase1); err != nil {
		return Packet{}, err
	}
	if err := checkRDbase("MOVALL: RDbase2", c.RDbase2); err != nil {
		return Packet{}, err
	}
	p := header(OpMOVALL, 0)
	p.setDW(2, c.RDbase1<<16)
	p.setDW(3, c.RDbase2<<16)
	return p, nil
}

func (c MOVALL) String() string {
	return fmt.Sprintf("MOVALL rdbase1=%d rdbase2=%d", c.RDbase1, c.RDbase2)
}

// DecodeCommand decodes a command packet into its typed value. Bits the
// architecture marks RES0 are ignored, as Linux KVM ignores them; every field
// the command uses is kept, so DecodeCommand(c.Encode()) == c.
//
// GICv4 commands decode too, to the types of vcommand.go, GICv4.1 fields
// included. An undefined opcode returns a nil Command and an
// [*OpcodeError]: the result is nil exactly when the error is not.
func DecodeCommand(p Packet) (Command, error) {
	dev := DeviceID(p.DW(0) >> 32)
	dw1, dw2 := p.DW(1), p.DW(2)
	ev := EventID(uint32(dw1))
	icid := ICID(dw2)
	switch op := p.Opcode(); op {
	case OpMAPD:
		return MAPD{DeviceID: dev, Size: uint8(dw1 & sizeMask), ITTAddr: GPA(dw2 & ittMask), Valid: dw2&validBit != 0}, nil
	case OpMAPC:
		return MAPC{ICID: icid, RDbase: (dw2 & rdbaseMask) >> 16, Valid: dw2&validBit != 0}, nil
	case OpMAPTI:
		return MAPTI{DeviceID: dev, EventID: ev, INTID: INTID(dw1 >> 32), ICID: icid}, nil
	case OpMAPI:
		return MAPI{DeviceID: dev, EventID: ev, ICID: icid}, nil
	case OpMOVI:
		return MOVI{DeviceID: dev, EventID: ev, ICID: icid}, nil
	case OpDISCARD:
		return DISCARD{DeviceID: dev, EventID: ev}, nil
	case OpINV:
		return INV{DeviceID: dev, EventID: ev}, nil
	case OpINT:
		return INT{DeviceID: dev, EventID: ev}, nil
	case OpCLEAR:
		return CLEAR{DeviceID: dev, EventID: ev}, nil
	case OpINVALL:
		return INVALL{ICID: icid}, nil
	case OpSYNC:
		return SYNC{RDbase: (dw2 & rdbaseMask) >> 16}, nil
	case OpMOVALL:
		return MOVALL{RDbase1: (dw2 & rdbaseMask) >> 16, RDbase2: (p.DW(3) & rdbaseMask) >> 16}, nil
	default:
		if cmd, ok := decodeGICv4(op, p); ok {
			return cmd, nil
		}
		return nil, &OpcodeError{Opcode: op}
	}
}
