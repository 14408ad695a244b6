using System.Collections.Immutable;

namespace Reconciler.Diff.Planning;

/// <summary>What kind of value a field of the snapshot holds. The snapshot (<see cref="ServiceFields"/>) keeps every
/// value as its display text, because the live state stores it that way and the diff compares texts; the type follows
/// from the path alone, so views show <c>keepReleases = 3</c>, <c>dependsOn = [auth, db-migrate]</c> and durations
/// without quotes, and quote only text.</summary>
public enum FieldValueType
{
    /// <summary>Free text (URLs, commands, config literals, health check descriptions): shown quoted.</summary>
    Text,
    /// <summary>A whole number (<c>deploy.keepReleases</c>, <c>strategy.canary</c>, <c>health.consecutivePasses</c>).</summary>
    Integer,
    /// <summary>A host count or a percentage of the group (<c>strategy.maxParallel</c>: <c>2</c>, <c>50%</c>).</summary>
    BatchSize,
    /// <summary>A duration with its unit (<c>30s</c>, <c>500ms</c>, <c>1m</c>).</summary>
    Duration,
    /// <summary>One of a fixed set of words (<c>deploy.driver</c>, <c>strategy.type</c>, <c>onFailure</c>).</summary>
    Keyword,
    /// <summary>A list of names, stored joined with "," (<c>dependsOn</c>).</summary>
    List,
}

public static class FieldTypes
{
    /// <summary>The type of the value at <paramref name="path"/> (a path of <see cref="ServiceFields.Flatten"/>).
    /// Config keys are text: the schema accepts numbers and booleans there, but they reach the host as text.</summary>
    public static FieldValueType Of(string path) => path switch
    {
        "deploy.keepReleases" or "strategy.canary" or "health.consecutivePasses" => FieldValueType.Integer,
        "strategy.maxParallel" => FieldValueType.BatchSize,
        "health.interval" or "health.deadline" or "health.minHealthy" => FieldValueType.Duration,
        "deploy.driver" or "strategy.type" or "onFailure" => FieldValueType.Keyword,
        "dependsOn" => FieldValueType.List,
        _ => FieldValueType.Text,
    };

    /// <summary>The items of a <see cref="FieldValueType.List"/> value ("" is the empty list).</summary>
    public static ImmutableArray<string> Items(string? value) =>
        string.IsNullOrEmpty(value) ? [] : [.. value.Split(',')];
}
