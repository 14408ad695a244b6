using System.Text.Json;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>The journal detail of a host switch (activate, remove) as it starts: the 1-based batch it belongs to. A repair
/// of an interrupted apply reads it to know whether that batch's state write covers the host; inferring the batch
/// from the strategy of whichever commit repairs would be wrong when the two commits' strategies differ.</summary>
internal sealed record SwitchDetail(int Batch)
{
    public string ToDetail() => JsonSerializer.Serialize(this, ReconcilerJson.Compact);

    /// <summary>Null for a switch journaled without it (by an earlier version).</summary>
    public static SwitchDetail? FromDetail(string? detail)
    {
        if (detail is null || !detail.StartsWith('{')) return null;
        try
        {
            return JsonSerializer.Deserialize<SwitchDetail>(detail, ReconcilerJson.Compact) is { Batch: > 0 } d ? d : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
