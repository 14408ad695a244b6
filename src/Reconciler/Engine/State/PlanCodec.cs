using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using static Reconciler.State.PlanSnapshotFile;

namespace Reconciler.State;

/// <summary>A <see cref="Plan"/> in binary, for <see cref="PlanSnapshotFile"/>: a 20,000-service plan reads back in a
/// few milliseconds per environment, where its JSON (docs/plan-json.md) takes far longer to parse. Every field is
/// written; the round trip is pinned by a test.</summary>
internal static class PlanCodec
{
    public static void Write(BinaryWriter w, Plan plan)
    {
        w.Write(plan.FormatVersion);
        w.Write(plan.Environment);
        w.Write(plan.Commit);
        Optional(w, plan.BaseCommit);
        w.Write(plan.LiveVersion);
        w.Write(plan.Services.Length);
        foreach (var s in plan.Services) Write(w, s);
        w.Write(plan.Toggles.Length);
        foreach (var t in plan.Toggles)
        {
            w.Write(t.Toggle);
            w.Write((int)t.Action);
            Flag(w, t.Before);
            Flag(w, t.After);
            w.Write(t.Requires.Count);
            foreach (var (k, v) in t.Requires) { w.Write(k); w.Write(v); }
            w.Write(t.Reason);
            w.Write(t.Wave);
        }
        w.Write(plan.Waves.Length);
        foreach (var wave in plan.Waves)
        {
            w.Write(wave.Index);
            w.Write((int)wave.Kind);
            Names(w, wave.Services);
            Names(w, wave.TogglesBefore);
            Names(w, wave.TogglesAfter);
        }
    }

    public static Plan Read(BinaryReader r)
    {
        var (format, environment, commit, baseCommit, liveVersion) = (r.ReadInt32(), r.ReadString(), r.ReadString(), Optional(r), r.ReadInt64());
        var services = new ServiceChange[Count(r)];
        for (var i = 0; i < services.Length; i++) services[i] = ReadService(r);
        var toggles = new ToggleChange[Count(r)];
        for (var i = 0; i < toggles.Length; i++)
        {
            var (name, action, before, after) = (r.ReadString(), Enum<ToggleAction>(r), Flag(r), Flag(r));
            var requires = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
            for (var n = Count(r); n > 0; n--) requires.Add(r.ReadString(), r.ReadString());
            toggles[i] = new ToggleChange(name, action, before, after, requires.ToImmutable(), r.ReadString(), r.ReadInt32());
        }
        var waves = new PlanWave[Count(r)];
        for (var i = 0; i < waves.Length; i++)
            waves[i] = new PlanWave(r.ReadInt32(), Enum<WaveKind>(r), Names(r), Names(r), Names(r));
        return new Plan(format, environment, commit, baseCommit, liveVersion, [.. services], [.. toggles], [.. waves]);
    }

    private static void Write(BinaryWriter w, ServiceChange s)
    {
        w.Write(s.Service);
        w.Write((int)s.Action);
        w.Write(s.Reason);
        Optional(w, s.FromVersion);
        Optional(w, s.ToVersion);
        Optional(w, s.FromRelease);
        Optional(w, s.ToRelease);
        w.Write(s.HostGroup);
        w.Write(s.Fields.Length);
        foreach (var f in s.Fields)
        {
            w.Write(f.Path);
            w.Write((int)f.Kind);
            Optional(w, f.Before);
            Optional(w, f.After);
        }
        w.Write(s.Hosts.Length);
        foreach (var h in s.Hosts)
        {
            w.Write(h.Host);
            Optional(w, h.Region);
            Optional(w, h.FromRelease);
            Optional(w, h.ToRelease);
        }
        w.Write(s.Wave);
        w.Write(s.Rollout is not null);
        if (s.Rollout is { } o)
        {
            w.Write(o.Strategy);
            w.Write(o.MaxParallel);
            w.Write(o.CanaryHosts ?? -1);
            w.Write(o.HealthChecks);
            w.Write(o.ConsecutivePasses);
            w.Write(o.Deadline);
            w.Write(o.OnFailure);
        }
    }

    private static ServiceChange ReadService(BinaryReader r)
    {
        var (service, action, reason) = (r.ReadString(), Enum<ServiceAction>(r), r.ReadString());
        var (fromVersion, toVersion, fromRelease, toRelease, hostGroup) = (Optional(r), Optional(r), Optional(r), Optional(r), r.ReadString());
        var fields = new FieldChange[Count(r)];
        for (var i = 0; i < fields.Length; i++) fields[i] = new FieldChange(r.ReadString(), Enum<FieldChangeKind>(r), Optional(r), Optional(r));
        var hosts = new HostChange[Count(r)];
        for (var i = 0; i < hosts.Length; i++) hosts[i] = new HostChange(r.ReadString(), Optional(r), Optional(r), Optional(r));
        var wave = r.ReadInt32();
        Rollout? rollout = null;
        if (r.ReadBoolean())
        {
            var (strategy, maxParallel, canary) = (r.ReadString(), r.ReadString(), r.ReadInt32());
            rollout = new Rollout(strategy, maxParallel, canary < 0 ? null : canary, r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadString());
        }
        return new ServiceChange(service, action, reason, fromVersion, toVersion, fromRelease, toRelease, hostGroup, [.. fields], [.. hosts], wave)
        {
            Rollout = rollout,
        };
    }

    private static void Flag(BinaryWriter w, bool? value) => w.Write((sbyte)(value is null ? -1 : value.Value ? 1 : 0));

    private static bool? Flag(BinaryReader r) => r.ReadSByte() switch
    {
        -1 => null,
        0 => false,
        1 => true,
        var b => throw new FormatException($"not a flag: {b}"),
    };

    private static void Names(BinaryWriter w, ImmutableArray<string> names)
    {
        w.Write(names.Length);
        foreach (var n in names) w.Write(n);
    }

    private static ImmutableArray<string> Names(BinaryReader r)
    {
        var names = new string[Count(r)];
        for (var i = 0; i < names.Length; i++) names[i] = r.ReadString();
        return [.. names];
    }

    private static int Count(BinaryReader r)
    {
        var n = r.ReadInt32();
        return n is >= 0 and <= 10_000_000 ? n : throw new FormatException($"bad count {n}");
    }

    private static T Enum<T>(BinaryReader r) where T : struct, Enum
    {
        var value = r.ReadInt32();
        var e = (T)(object)value;
        return System.Enum.IsDefined(e) ? e : throw new FormatException($"bad {typeof(T).Name} {value}");
    }
}
