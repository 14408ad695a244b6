using System.IO.Hashing;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>
/// What earlier plans found converged, so that the next plan recognises it without decoding the stored service or
/// comparing its fields: most services of a large repo are unchanged from one commit to the next.
/// <para>
/// An entry holds, for one service a plan found converged, a digest of each input of that decision
/// (<see cref="ConvergenceKeys"/>): its stored live entry, its desired spec and its host group, each a 128-bit XxHash3
/// under this memo's random seed, so that nobody can aim a commit at a collision. It matches only when all three digests
/// are equal now, so a stale entry never matches (<see cref="ConvergedMemoMatch"/>), and the planner is handed only
/// what matches (<see cref="PlanOptions.KnownConverged"/>): the plan made with a memo is the plan made without one.
/// </para>
/// <para>Immutable and free of I/O: the `plan` use case keeps one per environment and state store on disk
/// (<see cref="ConvergedMemoFile"/>) and writes the next one from what the plan found.</para>
/// </summary>
public sealed class ConvergedMemo
{
    private readonly Dictionary<string, Entry> _entries;

    /// <summary>A digest triple (stored live entry, desired spec, host group) and the release the spec makes, which the
    /// spec digest determines (it is a hash over part of what the digest covers), kept to spare a hash per service.</summary>
    public readonly record struct Entry(string Service, UInt128 Live, UInt128 Spec, UInt128 Group, string Release);

    public ConvergedMemo(ulong seed, IEnumerable<Entry> entries)
    {
        Seed = seed;
        _entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var e in entries) _entries[e.Service] = e;
    }

    /// <summary>An empty memo with a new random seed.</summary>
    public static ConvergedMemo Create() => new(BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)), []);

    public ulong Seed { get; }

    public int Count => _entries.Count;

    /// <summary>Every entry, in service name order.</summary>
    public IReadOnlyList<Entry> Entries => [.. _entries.Values.OrderBy(e => e.Service, StringComparer.Ordinal)];

    public bool TryGet(string service, out Entry entry) => _entries.TryGetValue(service, out entry);

    /// <summary>This memo's digest of some bytes: a stored service as a store reader reads it
    /// (<see cref="LiveService.FromStoredBytes"/>), a spec's or a host group's key.</summary>
    public UInt128 Digest(ReadOnlySpan<byte> bytes) => XxHash128.HashToUInt128(bytes, (long)Seed);

    /// <summary>True when an entry names this service with these stored bytes. A store reader then leaves them undecoded
    /// (<see cref="LiveService.Deferred"/>): it is given only the entries the plan will settle without reading the
    /// service (<see cref="ConvergedMemoMatch.Deferrable"/>), and an entry is only ever made from bytes that decoded.</summary>
    public bool MayMatch(string service, UInt128 live) => _entries.TryGetValue(service, out var e) && e.Live == live;
}
