using System.Collections.Concurrent;
using System.Text.Json;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>The journal detail of a host switch (activate, remove) as it starts: the 1-based batch it belongs to. A repair
/// of an interrupted apply reads it to know whether that batch's state write covers the host; inferring the batch
/// from the strategy of whichever commit repairs would be wrong when the two commits' strategies differ.</summary>
internal sealed record SwitchDetail(int Batch)
{
    // Every host of a batch journals the same text: serialised once per batch number, not per host step (a JSON write
    // each was ~3 us per host deployment at 10,000 hosts; docs/benchmarks.md, "Scale").
    private static readonly ConcurrentDictionary<int, string> Texts = new();

    public string ToDetail() => Texts.GetOrAdd(Batch, static batch => JsonSerializer.Serialize(new SwitchDetail(batch), ReconcilerJson.Compact.InfoFor<SwitchDetail>()));

    /// <summary>Null for a switch journaled without it (by an earlier version).</summary>
    public static SwitchDetail? FromDetail(string? detail)
    {
        if (detail is null || !detail.StartsWith('{')) return null;
        try
        {
            return JsonSerializer.Deserialize(detail, ReconcilerJson.Compact.InfoFor<SwitchDetail>()) is { Batch: > 0 } d ? d : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
