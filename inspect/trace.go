package inspect

import (
	"context"
	"log/slog"

	"github.com/gicits/gicits/model"
)

// TraceEvents are the messages of the records Trace logs, one per kind of
// event, for selecting among them (itsbench -trace-events).
var TraceEvents = []string{
	"command", "queue", "msi", "trigger", "irqfd", "write", "enablelpis",
	"lpiconfig", "routing", "ack", "eoi", "pmr", "save", "restore",
}

// Trace returns b wrapped so that everything done to it is logged to log
// as structured records:
//
//   - level Info, message "command": every ITS command, from
//     [model.SubmitCommands] or written into the queue by hand and
//     started with a GITS_CWRITER write: its queue offset, mnemonic and
//     outcome ("ok", the E_ITS_* code, or "submitted" on a backend that
//     cannot observe command errors);
//   - level Info, message "msi" / "trigger": every MSI, GSI trigger and
//     irqfd signal with its outcome (delivered, blocked, or the error);
//   - level Debug: the other calls that change state ([model.EnableLPIs],
//     [model.SetLPIConfig], register writes, Acknowledge, EOI,
//     SetPriorityMask, SaveTables, RestoreTables, SetGSIRouting).
//
// Close closes b. The wrapper's Name is b's, so what runs on it cannot tell
// the difference.
//
// # Cost
//
// Not tracing means not wrapping: nothing is paid. A wrapper whose handler
// is disabled for a level asks log.Enabled before it builds a record, so
// it allocates nothing and costs one call per operation (see
// BenchmarkTraceSignalMSI).
//
// A nil log returns b itself. The wrapper of a backend that implements
// [model.VirtualCPUInterface] implements it too, passing its calls on
// untraced, so GICv4.0 code (a scenario's virtual CPU interface
// statements, state's pending vLPIs) works the same traced.
func Trace(b model.Backend, log *slog.Logger) model.Backend {
	if log == nil {
		return b
	}
	t := &tracer{Backend: b, log: log}
	if v, ok := b.(model.VirtualCPUInterface); ok {
		return &virtualTracer{tracer: t, VirtualCPUInterface: v}
	}
	return t
}

// virtualTracer is a tracer of a backend with vPEs: the virtual CPU
// interface passes straight to the wrapped backend.
type virtualTracer struct {
	*tracer
	model.VirtualCPUInterface
}

// tracer implements the optional interfaces of model's driver functions
// (model.CommandSubmitter, model.LPIEnabler, model.LPIConfigSetter), so
// that model.SubmitCommands, EnableLPIs and SetLPIConfig on the wrapper
// log one event and then do their work on the wrapped backend, whose own
// register writes are then not logged again.
type tracer struct {
	model.Backend
	log *slog.Logger
}

var (
	_ model.CommandSubmitter = (*tracer)(nil)
	_ model.LPIEnabler       = (*tracer)(nil)
	_ model.LPIConfigSetter  = (*tracer)(nil)
)

func (t *tracer) on(level slog.Level) bool { return t.log.Enabled(context.Background(), level) }

func outcomeAttr(err error) slog.Attr {
	if err != nil {
		return slog.String("error", err.Error())
	}
	return slog.String("outcome", "ok")
}

func (t *tracer) SignalMSI(m model.MSI) (model.Delivery, error) {
	d, err := t.Backend.SignalMSI(m)
	if !t.on(slog.LevelInfo) {
		return d, err
	}
	t.logMSI("msi", m, d, err)
	return d, err
}

func (t *tracer) logMSI(msg string, m model.MSI, d model.Delivery, err error) {
	out := slog.String("outcome", d.String())
	if err != nil {
		out = slog.String("error", err.Error())
	}
	devid := slog.String("devid", "valid")
	if !m.DeviceIDValid {
		devid = slog.String("devid", "none")
	}
	t.log.LogAttrs(context.Background(), slog.LevelInfo, msg, slog.String("dev", hex32(uint32(m.DeviceID))),
		slog.Uint64("ev", uint64(m.Data)), devid, out)
}

func hex32(v uint32) string { return "0x" + formatHex(uint64(v)) }

func formatHex(v uint64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var buf [16]byte
	i := len(buf)
	for v != 0 {
		i--
		buf[i] = digits[v&0xF]
		v >>= 4
	}
	return string(buf[i:])
}

func (t *tracer) SubmitCommands(cmds ...model.Command) error {
	if !t.on(slog.LevelInfo) {
		return model.SubmitCommands(t.Backend, cmds...)
	}
	start, qerr := t.Backend.ReadITSRegister(model.GITS_CWRITER)
	cbaser, _ := t.Backend.ReadITSRegister(model.GITS_CBASER)
	err := model.SubmitCommands(t.Backend, cmds...)
	size := uint64(model.CBASER(cbaser).SizeBytes())
	offs := make([]uint64, len(cmds))
	for i := range cmds {
		offs[i] = (start&model.GITS_CQ_OffsetMask + uint64(i)*model.CommandSize) % size
	}
	t.logCommands(cmds, offs, qerr == nil, err)
	return err
}

// logCommands logs one record per command, matching command errors to
// commands by queue offset; an error that is not a command error is
// logged once after them.
func (t *tracer) logCommands(cmds []model.Command, offs []uint64, offsKnown bool, err error) {
	cerrs := model.CommandErrors(err)
	byOff := map[uint64]*model.CommandError{}
	for _, ce := range cerrs {
		byOff[ce.Offset] = ce
	}
	reports := t.Backend.Capabilities().ReportsCommandErrors
	ctx := context.Background()
	for i, c := range cmds {
		attrs := []slog.Attr{slog.String("cmd", c.String())}
		if offsKnown {
			attrs = append(attrs, slog.String("offset", "0x"+formatHex(offs[i])))
		}
		switch ce := byOff[offs[i]]; {
		case offsKnown && ce != nil:
			if ce.Code != 0 {
				attrs = append(attrs, slog.String("outcome", ce.Code.String()))
			} else {
				attrs = append(attrs, slog.String("outcome", "error"))
			}
			if ce.Detail != "" {
				attrs = append(attrs, slog.String("detail", ce.Detail))
			}
			if ce.Cause != nil {
				attrs = append(attrs, slog.String("cause", ce.Cause.Error()))
			}
		case !reports:
			attrs = append(attrs, slog.String("outcome", "submitted"))
		default:
			attrs = append(attrs, slog.String("outcome", "ok"))
		}
		t.log.LogAttrs(ctx, slog.LevelInfo, "command", attrs...)
	}
	if err != nil && len(cerrs) == 0 {
		t.log.LogAttrs(ctx, slog.LevelWarn, "queue", slog.String("error", err.Error()))
	}
}

func (t *tracer) WriteITSRegister(reg model.ITSRegister, v uint64) error {
	if !t.on(slog.LevelInfo) {
		return t.Backend.WriteITSRegister(reg, v)
	}
	if reg != model.GITS_CWRITER {
		err := t.Backend.WriteITSRegister(reg, v)
		if t.on(slog.LevelDebug) {
			t.log.LogAttrs(context.Background(), slog.LevelDebug, "write", slog.String("reg", reg.String()),
				slog.String("value", "0x"+formatHex(v)), outcomeAttr(err))
		}
		return err
	}
	// Commands written into the queue by hand: decode [CWRITER, new).
	old, rerr := t.Backend.ReadITSRegister(model.GITS_CWRITER)
	cbaser, cerr := t.Backend.ReadITSRegister(model.GITS_CBASER)
	err := t.Backend.WriteITSRegister(reg, v)
	t.log.LogAttrs(context.Background(), slog.LevelDebug, "write", slog.String("reg", reg.String()),
		slog.String("value", "0x"+formatHex(v)))
	cb := model.CBASER(cbaser)
	if rerr != nil || cerr != nil || !cb.Valid() {
		if err != nil {
			t.log.LogAttrs(context.Background(), slog.LevelWarn, "queue", slog.String("error", err.Error()))
		}
		return err
	}
	size := uint64(cb.SizeBytes())
	from, to := old&model.GITS_CQ_OffsetMask, v&model.GITS_CQ_OffsetMask
	if from >= size || to >= size {
		return err
	}
	var cmds []model.Command
	var offs []uint64
	for off := from; off != to; off = (off + model.CommandSize) % size {
		var p model.Packet
		if t.Backend.Memory().ReadAt(p[:], cb.Addr()+model.GPA(off)) != nil {
			break
		}
		var c model.Command = p
		if dc, derr := model.DecodeCommand(p); derr == nil {
			c = dc
		}
		cmds = append(cmds, c)
		offs = append(offs, off)
	}
	t.logCommands(cmds, offs, true, err)
	return err
}

func (t *tracer) TriggerGSI(gsi model.GSI) error {
	err := t.Backend.TriggerGSI(gsi)
	if t.on(slog.LevelInfo) {
		t.log.LogAttrs(context.Background(), slog.LevelInfo, "trigger", slog.Uint64("gsi", uint64(gsi)), outcomeAttr(err))
	}
	return err
}

func (t *tracer) BindIRQFD(gsi model.GSI) (model.Trigger, error) {
	tr, err := t.Backend.BindIRQFD(gsi)
	t.debug("irqfd", slog.Uint64("gsi", uint64(gsi)), outcomeAttr(err))
	if err != nil {
		return tr, err
	}
	return &tracedTrigger{Trigger: tr, t: t, gsi: gsi}, nil
}

type tracedTrigger struct {
	model.Trigger
	t   *tracer
	gsi model.GSI
}

func (tt *tracedTrigger) Signal() error {
	err := tt.Trigger.Signal()
	if tt.t.on(slog.LevelInfo) {
		tt.t.log.LogAttrs(context.Background(), slog.LevelInfo, "trigger", slog.Uint64("gsi", uint64(tt.gsi)),
			slog.String("via", "irqfd"), outcomeAttr(err))
	}
	return err
}

func (t *tracer) debug(msg string, attrs ...slog.Attr) {
	if t.on(slog.LevelDebug) {
		t.log.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
	}
}

func (t *tracer) EnableLPIs(cpu model.CPU) error {
	err := model.EnableLPIs(t.Backend, cpu)
	t.debug("enablelpis", slog.Uint64("cpu", uint64(cpu)), outcomeAttr(err))
	return err
}

func (t *tracer) SetLPIConfig(intid model.INTID, cfg model.LPIConfig) error {
	err := model.SetLPIConfig(t.Backend, intid, cfg)
	t.debug("lpiconfig", slog.Uint64("lpi", uint64(intid)), slog.String("config", cfg.String()), outcomeAttr(err))
	return err
}

func (t *tracer) WriteRedistributorRegister(cpu model.CPU, reg model.GICRRegister, v uint64) error {
	err := t.Backend.WriteRedistributorRegister(cpu, reg, v)
	t.debug("write", slog.Uint64("cpu", uint64(cpu)), slog.String("reg", reg.String()), slog.String("value", "0x"+formatHex(v)), outcomeAttr(err))
	return err
}

func (t *tracer) SetGSIRouting(routes []model.Route) error {
	err := t.Backend.SetGSIRouting(routes)
	t.debug("routing", slog.Int("routes", len(routes)), outcomeAttr(err))
	return err
}

func (t *tracer) Acknowledge(cpu model.CPU) (model.INTID, error) {
	id, err := t.Backend.Acknowledge(cpu)
	t.debug("ack", slog.Uint64("cpu", uint64(cpu)), slog.Uint64("intid", uint64(id)), outcomeAttr(err))
	return id, err
}

func (t *tracer) EOI(cpu model.CPU, intid model.INTID) error {
	err := t.Backend.EOI(cpu, intid)
	t.debug("eoi", slog.Uint64("cpu", uint64(cpu)), slog.Uint64("intid", uint64(intid)), outcomeAttr(err))
	return err
}

func (t *tracer) SetPriorityMask(cpu model.CPU, pmr uint8) error {
	err := t.Backend.SetPriorityMask(cpu, pmr)
	t.debug("pmr", slog.Uint64("cpu", uint64(cpu)), slog.String("value", "0x"+formatHex(uint64(pmr))), outcomeAttr(err))
	return err
}

func (t *tracer) SaveTables() error {
	err := t.Backend.SaveTables()
	t.debug("save", outcomeAttr(err))
	return err
}

func (t *tracer) RestoreTables() error {
	err := t.Backend.RestoreTables()
	t.debug("restore", outcomeAttr(err))
	return err
}
