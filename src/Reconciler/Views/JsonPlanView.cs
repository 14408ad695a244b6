using System.Text.Json;
using Reconciler.Cli;
using Reconciler.Diff.Planning;
using Reconciler.State;

namespace Reconciler.Views;

/// <summary>
/// The versioned JSON form of a plan (docs/plan-json.md, schemas/plan.schema.json): the plan model serialized
/// with the product's one JSON dialect. It is also the saved-plan format (`plan --out`), so it round-trips
/// exactly and is never truncated.
/// </summary>
public static class JsonPlanView
{
    public static string Render(Plan plan) => JsonSerializer.Serialize(plan, PlanJsonContext.PlanInfo) + "\n";

    /// <summary>The same document as UTF-8 bytes: a large plan is tens of MB, and going through a string would
    /// transcode it twice on its way to stdout or a file.</summary>
    public static byte[] RenderUtf8(Plan plan)
    {
        using var buffer = new MemoryStream();
        JsonSerializer.Serialize(buffer, plan, PlanJsonContext.PlanInfo);
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Reads a saved plan. Refuses other format versions rather than guessing what they mean.</summary>
    public static Plan Read(string json, string source)
    {
        int? formatVersion = null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("formatVersion", out var v) && v.TryGetInt32(out var n))
                formatVersion = n;
        }
        catch (JsonException e)
        {
            throw new UserError($"{source}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: not valid JSON: {FirstSentence(e.Message)}; pass a file written by `reconciler plan --out`.");
        }
        if (formatVersion != Plan.CurrentFormatVersion)
            throw new UserError(formatVersion is null
                ? $"{source}: not a saved plan (no formatVersion); pass a file written by `reconciler plan --out`."
                : $"{source}: plan formatVersion {formatVersion} is not supported (this reconciler reads {Plan.CurrentFormatVersion}); re-run `reconciler plan --out` with this version.");
        try
        {
            return JsonSerializer.Deserialize(json, PlanJsonContext.PlanInfo)
                   ?? throw new UserError($"{source}: the plan is null; pass a file written by `reconciler plan --out`.");
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $":{line + 1}:{(e.BytePositionInLine ?? 0) + 1}" : "";
            throw new UserError($"{source}{where}: not a valid plan{(e.Path is null ? "" : $" at {e.Path}")}: {FirstSentence(e.Message)}; pass a file written by `reconciler plan --out`.");
        }
    }

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return (dot > 0 ? message[..dot] : message).TrimEnd('.');
    }
}
