using System.Text.Json;
using Reconciler.Diff.Planning;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>
/// Writes a plan in the product's JSON dialect with <see cref="Utf8JsonWriter"/> directly, property by property, in
/// the serializer's order and with its rules (camelCase names, nulls left out, enums in kebab-case, the same writer
/// options). The serializer builds metadata for every plan type in every process and ReadyToRun cannot precompile
/// its generic code for our types, so a 55 MB plan paid ~500 methods of JIT before writing a byte
/// (docs/benchmarks/planner.md). Reading a saved plan still goes through the serializer. A test holds this writer to
/// the serializer's bytes on the golden plans and on random plans with awkward strings. It writes the one plan
/// document (docs/plan-json.md): <see cref="SavedPlanFile"/> saves it, and the CLI's JSON view prints it.
/// </summary>
public static class PlanJsonWriter
{
    /// <summary>The writer options the serializer would use with <see cref="ReconcilerJson.Options"/>.</summary>
    public static JsonWriterOptions Options { get; } = new()
    {
        Encoder = ReconcilerJson.Options.Encoder,
        Indented = ReconcilerJson.Options.WriteIndented,
        IndentCharacter = ReconcilerJson.Options.IndentCharacter,
        IndentSize = ReconcilerJson.Options.IndentSize,
        NewLine = ReconcilerJson.Options.NewLine,
        MaxDepth = ReconcilerJson.Options.MaxDepth,
    };

    private const int FlushThreshold = 32 * 1024;

    private static readonly string[] ServiceActions = Names<ServiceAction>();
    private static readonly string[] FieldKinds = Names<FieldChangeKind>();
    private static readonly string[] ToggleActions = Names<ToggleAction>();
    private static readonly string[] WaveKinds = Names<WaveKind>();
    private static readonly string[] RepairKinds = Names<RepairKind>();

    private static string[] Names<T>() where T : struct, Enum =>
        [.. Enum.GetValues<T>().Select(v => JsonNamingPolicy.KebabCaseLower.ConvertName(v.ToString()))];

    /// <summary>One plan document to <paramref name="destination"/>, without a trailing newline, in pieces of about 32 KB
    /// through one reused buffer: nothing the size of the plan is held in memory. The stream is flushed at the end.</summary>
    public static void Write(Stream destination, Plan plan)
    {
        using (var writer = new Utf8JsonWriter(new StreamBufferWriter(destination), Options)) Write(writer, plan);
        destination.Flush();
    }

    /// <summary>The writer's output, passed on to a stream at each flush, in one buffer reused from its start. A
    /// writer on a stream keeps an <see cref="System.Buffers.ArrayBufferWriter{T}"/> that it grows while writing a
    /// large raw value and zeroes at each flush: at 20,000 services that was a tenth of writing the plan's JSON.</summary>
    private sealed class StreamBufferWriter(Stream destination) : System.Buffers.IBufferWriter<byte>
    {
        private byte[] _buffer = new byte[2 * FlushThreshold];

        public void Advance(int count)
        {
            destination.Write(_buffer, 0, count);   // the writer asks for memory again before writing more
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            if (sizeHint > _buffer.Length) _buffer = new byte[sizeHint];
            return _buffer;
        }

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }

    public static void Write(Utf8JsonWriter w, Plan plan) => Write(w, plan, noOpFastPath: true);

    /// <param name="noOpFastPath">False: every entry through the writer (the slow path the tests compare with).</param>
    internal static void Write(Utf8JsonWriter w, Plan plan, bool noOpFastPath)
    {
        w.WriteStartObject();
        w.WriteNumber("formatVersion", plan.FormatVersion);
        w.WriteString("environment", plan.Environment);
        w.WriteString("commit", plan.Commit);
        if (plan.BaseCommit is not null) w.WriteString("baseCommit", plan.BaseCommit);
        w.WriteNumber("liveVersion", plan.LiveVersion);

        w.WriteStartArray("services");
        var noOps = noOpFastPath && NoOpEntryJson.Fits(w) ? new NoOpEntryJson() : null;
        if (noOps is not null && plan.Deferred() is SnapshotEntries records)
        {
            // A plan merged from a snapshot: its carried-over no-ops straight from their records, never made objects.
            foreach (var entry in records.Entries())
            {
                if (entry.Listed is { } s) { if (!noOps.TryWrite(w, s)) WriteService(w, s); }
                else if (!noOps.TryWrite(w, records.From.Strings, entry.Record)) WriteService(w, records.Materialise(entry));
                if (w.BytesPending > FlushThreshold) w.Flush();
            }
        }
        else
            foreach (var s in plan.Services)
            {
                if (noOps is null || !noOps.TryWrite(w, s)) WriteService(w, s);
                // The writer holds everything until flushed: pass it on in small pieces, as the serializer does.
                if (w.BytesPending > FlushThreshold) w.Flush();
            }
        w.WriteEndArray();

        w.WriteStartArray("toggles");
        foreach (var t in plan.Toggles)
        {
            w.WriteStartObject();
            w.WriteString("toggle", t.Toggle);
            w.WriteString("action", ToggleActions[(int)t.Action]);
            if (t.Before is { } before) w.WriteBoolean("before", before);
            if (t.After is { } after) w.WriteBoolean("after", after);
            w.WriteStartObject("requires");
            foreach (var (service, range) in t.Requires) w.WriteString(service, range);
            w.WriteEndObject();
            w.WriteString("reason", t.Reason);
            w.WriteNumber("wave", t.Wave);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("waves");
        foreach (var wave in plan.Waves)
        {
            w.WriteStartObject();
            w.WriteNumber("index", wave.Index);
            w.WriteString("kind", WaveKinds[(int)wave.Kind]);
            Strings(w, "services", wave.Services);
            Strings(w, "togglesBefore", wave.TogglesBefore);
            Strings(w, "togglesAfter", wave.TogglesAfter);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        if (plan.Catalog is { } catalog)
        {
            w.WriteStartArray("catalog");
            foreach (var b in catalog)
            {
                w.WriteStartObject();
                w.WriteString("hostGroup", b.HostGroup);
                w.WriteString("service", b.Service);
                w.WriteNumber("index", b.Index);
                w.WriteStartArray("hosts");
                foreach (var m in b.Hosts)
                {
                    w.WriteStartObject();
                    w.WriteString("host", m.Host);
                    w.WriteString("address", m.Address);
                    w.WriteNumber("port", m.Port);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }

        w.WriteBoolean("hasChanges", plan.HasChanges);
        w.WriteEndObject();
    }

    private static void WriteService(Utf8JsonWriter w, ServiceChange s)
    {
        w.WriteStartObject();
        w.WriteString("service", s.Service);
        w.WriteString("action", ServiceActions[(int)s.Action]);
        w.WriteString("reason", s.Reason);
        Optional(w, "fromVersion", s.FromVersion);
        Optional(w, "toVersion", s.ToVersion);
        Optional(w, "fromRelease", s.FromRelease);
        Optional(w, "toRelease", s.ToRelease);
        w.WriteString("hostGroup", s.HostGroup);
        w.WriteStartArray("fields");
        foreach (var f in s.Fields)
        {
            w.WriteStartObject();
            w.WriteString("path", f.Path);
            w.WriteString("kind", FieldKinds[(int)f.Kind]);
            Optional(w, "before", f.Before);
            Optional(w, "after", f.After);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("hosts");
        foreach (var h in s.Hosts)
        {
            w.WriteStartObject();
            w.WriteString("host", h.Host);
            Optional(w, "region", h.Region);
            Optional(w, "fromRelease", h.FromRelease);
            Optional(w, "toRelease", h.ToRelease);
            if (h.Config is { } config)
            {
                w.WriteStartObject("config");
                foreach (var (key, value) in config) w.WriteString(key, value);
                w.WriteEndObject();
            }
            if (h.Repair is { } repair)
            {
                w.WriteStartObject("repair");
                w.WriteString("kind", RepairKinds[(int)repair.Kind]);
                w.WriteString("reason", repair.Reason);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("wave", s.Wave);
        if (s.Rollout is { } r)
        {
            w.WriteStartObject("rollout");
            w.WriteString("strategy", r.Strategy);
            w.WriteString("maxParallel", r.MaxParallel);
            if (r.CanaryHosts is { } canary) w.WriteNumber("canaryHosts", canary);
            w.WriteNumber("healthChecks", r.HealthChecks);
            w.WriteNumber("consecutivePasses", r.ConsecutivePasses);
            w.WriteString("deadline", r.Deadline);
            w.WriteString("onFailure", r.OnFailure);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    internal static string ServiceActionName(ServiceAction action) => ServiceActions[(int)action];

    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null) w.WriteString(name, value);
    }

    private static void Strings(Utf8JsonWriter w, string name, System.Collections.Immutable.ImmutableArray<string> items)
    {
        w.WriteStartArray(name);
        foreach (var item in items) w.WriteStringValue(item);
        w.WriteEndArray();
    }
}
