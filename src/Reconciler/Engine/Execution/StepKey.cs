using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Reconciler.Execution;

/// <summary>What a journaled step does. The stored text of each kind (see <see cref="StepKey"/>) is part of the
/// journal format: a journal written by one version is resumed by the next.</summary>
internal enum StepKind
{
    Begin,          // begin                   the header (plan, live state before, deploy settings)
    ToggleBefore,   // wN/toggle/T/before
    Stage,          // wN/S/H/stage
    Activate,       // wN/S/H/activate
    Remove,         // wN/S/H/remove
    BatchGate,      // wN/S/batch-K/gate
    BatchState,     // wN/S/batch-K/state
    ServiceState,   // wN/S/state              a removed service: one state write
    ServiceDone,    // wN/S/done
    ToggleAfter,    // wN/toggle/T/after
    End,            // end
    Rollback,       // rollback
    RollbackHost,   // rollback/S/H
    RollbackState,  // rollback/state
}

/// <summary>
/// The key of one journaled step. <see cref="ToString"/> and <see cref="TryParse"/> are the one place that knows the
/// stored text ("w1/api/web-1/activate"); everything else works with the typed fields. The text is unambiguous because
/// names (services, hosts, toggles) never contain '/' and the last segment names the kind: a service may be called
/// "toggle" and a host "batch-1". Every key parses back to itself: <c>Parse(k.ToString()) == k</c>.
/// </summary>
internal readonly record struct StepKey
{
    private StepKey(StepKind kind, int wave = 0, string? service = null, string? host = null, int batch = 0, string? toggle = null) =>
        (Kind, Wave, Service, Host, Batch, Toggle) = (kind, wave, service, host, batch, toggle);

    public StepKind Kind { get; }
    public int Wave { get; }
    public string? Service { get; }
    public string? Host { get; }
    /// <summary>1-based, as stored ("batch-1" is the first batch).</summary>
    public int Batch { get; }
    public string? Toggle { get; }

    public static StepKey Begin => new(StepKind.Begin);
    public static StepKey End => new(StepKind.End);
    public static StepKey Rollback => new(StepKind.Rollback);
    public static StepKey RollbackState => new(StepKind.RollbackState);

    /// <param name="kind"><see cref="StepKind.Stage"/>, <see cref="StepKind.Activate"/> or <see cref="StepKind.Remove"/>.</param>
    public static StepKey OnHost(int wave, string service, string host, StepKind kind) =>
        kind is StepKind.Stage or StepKind.Activate or StepKind.Remove
            ? new(kind, CheckWave(wave), CheckName(service), CheckName(host))
            : throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a host step");

    public static StepKey Gate(int wave, string service, int batch) => new(StepKind.BatchGate, CheckWave(wave), CheckName(service), batch: CheckBatch(batch));
    public static StepKey BatchWritten(int wave, string service, int batch) => new(StepKind.BatchState, CheckWave(wave), CheckName(service), batch: CheckBatch(batch));
    public static StepKey ServiceWritten(int wave, string service) => new(StepKind.ServiceState, CheckWave(wave), CheckName(service));
    public static StepKey ServiceDone(int wave, string service) => new(StepKind.ServiceDone, CheckWave(wave), CheckName(service));

    /// <param name="kind"><see cref="StepKind.ToggleBefore"/> or <see cref="StepKind.ToggleAfter"/>.</param>
    public static StepKey ToggleSwitch(int wave, string toggle, StepKind kind) =>
        kind is StepKind.ToggleBefore or StepKind.ToggleAfter
            ? new(kind, CheckWave(wave), toggle: CheckName(toggle))
            : throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a toggle step");

    public static StepKey RollbackOf(string service, string host) => new(StepKind.RollbackHost, service: CheckName(service), host: CheckName(host));

    /// <summary>A host step that switches what runs (activate or remove): what a rollback or a repair undoes.</summary>
    public bool SwitchesHost => Kind is StepKind.Activate or StepKind.Remove;

    public bool IsHostStep => Kind is StepKind.Stage or StepKind.Activate or StepKind.Remove;

    /// <summary>The word progress, spans and errors use for a host step ("stage", "activate", "remove").</summary>
    public string HostAction => Kind switch
    {
        StepKind.Stage => "stage",
        StepKind.Activate => "activate",
        StepKind.Remove => "remove",
        _ => throw new InvalidOperationException($"{Kind} is not a host step"),
    };

    /// <summary>The stored text.</summary>
    public override string ToString() => Kind switch
    {
        StepKind.Begin => "begin",
        StepKind.End => "end",
        StepKind.Rollback => "rollback",
        StepKind.RollbackState => "rollback/state",
        StepKind.RollbackHost => $"rollback/{Service}/{Host}",
        StepKind.ToggleBefore => $"w{Wave}/toggle/{Toggle}/before",
        StepKind.ToggleAfter => $"w{Wave}/toggle/{Toggle}/after",
        // Written once per host step (thousands per apply): one copy into the string, no formatting buffer.
        StepKind.Stage or StepKind.Activate or StepKind.Remove => string.Concat([WavePrefix(Wave), Service, "/", Host, "/", HostAction]),
        StepKind.BatchGate => $"w{Wave}/{Service}/batch-{Batch}/gate",
        StepKind.BatchState => $"w{Wave}/{Service}/batch-{Batch}/state",
        StepKind.ServiceState => $"w{Wave}/{Service}/state",
        StepKind.ServiceDone => $"w{Wave}/{Service}/done",
        _ => throw new InvalidOperationException($"unknown step kind {Kind}"),
    };

    private static readonly string[] WavePrefixes = [.. Enumerable.Range(0, 16).Select(w => $"w{w}/")];

    private static string WavePrefix(int wave) => wave < WavePrefixes.Length ? WavePrefixes[wave] : $"w{wave}/";

    /// <summary>The key a stored step text stands for; a text this version does not write is an error: resuming a
    /// journal we cannot read step by step could redo or skip work.</summary>
    public static StepKey Parse(string text, string environment, string applyId) =>
        TryParse(text, out var key) ? key
        : throw new ReconcilerException(FailureKind.StoreUnavailable,
            $"the open apply journal of {environment} (apply {applyId}) has a step '{Drivers.ReleaseLayout.Printable(text)}' that this version " +
            "of reconciler does not write (a newer version, or a damaged store). Nothing was changed; inspect the journal with `reconciler state`.");

    public static bool TryParse(string? text, out StepKey key)
    {
        key = default;
        if (string.IsNullOrEmpty(text)) return false;
        var parts = text.Split('/');
        if (parts.Any(p => p.Length == 0)) return false;
        switch (parts)
        {
            case ["begin"]: key = Begin; return true;
            case ["end"]: key = End; return true;
            case ["rollback"]: key = Rollback; return true;
            case ["rollback", "state"]: key = RollbackState; return true;
            case ["rollback", var service, var host]: key = new(StepKind.RollbackHost, service: service, host: host); return true;
        }
        if (!TryWave(parts[0], out var wave)) return false;
        switch (parts)
        {
            case [_, var service, "done"]: key = new(StepKind.ServiceDone, wave, service); return true;
            case [_, var service, "state"]: key = new(StepKind.ServiceState, wave, service); return true;
            case [_, "toggle", var toggle, "before"]: key = new(StepKind.ToggleBefore, wave, toggle: toggle); return true;
            case [_, "toggle", var toggle, "after"]: key = new(StepKind.ToggleAfter, wave, toggle: toggle); return true;
            case [_, var service, var host, "stage"]: key = new(StepKind.Stage, wave, service, host); return true;
            case [_, var service, var host, "activate"]: key = new(StepKind.Activate, wave, service, host); return true;
            case [_, var service, var host, "remove"]: key = new(StepKind.Remove, wave, service, host); return true;
            case [_, var service, var batch, "gate"] when TryBatch(batch, out var n): key = new(StepKind.BatchGate, wave, service, batch: n); return true;
            case [_, var service, var batch, "state"] when TryBatch(batch, out var n): key = new(StepKind.BatchState, wave, service, batch: n); return true;
            default: return false;
        }
    }

    private static bool TryWave(string segment, out int wave)
    {
        wave = 0;
        return segment.Length > 1 && segment[0] == 'w' && TryNumber(segment.AsSpan(1), out wave);
    }

    private static bool TryBatch(string segment, out int batch)
    {
        batch = 0;
        return segment.StartsWith("batch-", StringComparison.Ordinal) && TryNumber(segment.AsSpan(6), out batch) && batch >= 1;
    }

    /// <summary>Digits only, no sign and no leading zero: the one spelling <see cref="ToString"/> writes.</summary>
    private static bool TryNumber(ReadOnlySpan<char> digits, out int value)
    {
        value = 0;
        if (digits.IsEmpty || (digits[0] == '0' && digits.Length > 1) || digits.ContainsAnyExceptInRange('0', '9')) return false;
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static int CheckWave(int wave) => wave >= 0 ? wave : throw new ArgumentOutOfRangeException(nameof(wave), wave, "waves count from 0");

    private static int CheckBatch(int batch) => batch >= 1 ? batch : throw new ArgumentOutOfRangeException(nameof(batch), batch, "batches count from 1");

    /// <summary>Names are checked by the schema ([a-z][a-z0-9-]*); a '/' would make the stored text ambiguous.</summary>
    private static string CheckName([NotNull] string? name) =>
        !string.IsNullOrEmpty(name) && !name.Contains('/') ? name
        : throw new ArgumentException($"'{name}' cannot be part of a journal step key", nameof(name));

}
