using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reconciler.Diff.Planning;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>
/// The saved-plan file: what `plan --out FILE` writes and `apply --plan FILE` reads (docs/plan-json.md,
/// <c>formatVersion</c> 1). It is the plan document exactly as `plan --format json` prints it, one plan, never
/// truncated. A reader refuses another format version rather than guess what it means, and names file:line:col of a
/// document it cannot read.
/// </summary>
public static class SavedPlanFile
{
    /// <summary>Writes <paramref name="plan"/> to a temporary file beside <paramref name="path"/> and renames it over,
    /// so that a reader never sees half a plan.</summary>
    public static void Save(string path, Plan plan)
    {
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                PlanJsonWriter.Write(file, plan);
                file.WriteByte((byte)'\n');
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new ReconcilerException(FailureKind.InvalidInput, $"{path}: cannot save the plan: {e.Message}");
        }
    }

    /// <summary>Reads the saved plan at <paramref name="path"/>.</summary>
    public static Plan Read(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, $"{path}: cannot read the saved plan: {e.Message}");
        }
        return Parse(json, path);
    }

    /// <summary>A saved plan's text; <paramref name="source"/> names it in messages.</summary>
    public static Plan Parse(string json, string source)
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
            throw Invalid($"{source}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: not valid JSON: {FirstSentence(e.Message)}; pass a file written by `reconciler plan --out`.");
        }
        if (formatVersion != Plan.CurrentFormatVersion)
            throw Invalid(formatVersion is null
                ? $"{source}: not a saved plan (no formatVersion); pass a file written by `reconciler plan --out`."
                : $"{source}: plan formatVersion {formatVersion} is not supported (this reconciler reads {Plan.CurrentFormatVersion}); re-run `reconciler plan --out` with this version.");
        try
        {
            return JsonSerializer.Deserialize(json, SavedPlanJsonContext.PlanInfo)
                   ?? throw Invalid($"{source}: the plan is null; pass a file written by `reconciler plan --out`.");
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $":{line + 1}:{(e.BytePositionInLine ?? 0) + 1}" : "";
            throw Invalid($"{source}{where}: not a valid plan{(e.Path is null ? "" : $" at {e.Path}")}: {FirstSentence(e.Message)}; pass a file written by `reconciler plan --out`.");
        }
    }

    private static ReconcilerException Invalid(string message) => new(FailureKind.InvalidInput, message);

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return (dot > 0 ? message[..dot] : message).TrimEnd('.');
    }
}

/// <summary>Compile-time metadata for reading a saved plan (a large plan is tens of MB; reflection metadata and its JIT
/// would cost more than the reading), in the product's dialect (<see cref="ReconcilerJson.Options"/>).</summary>
[JsonSerializable(typeof(Plan))]
internal sealed partial class SavedPlanJsonContext : JsonSerializerContext
{
    // Lazy: static initializers of the two halves of this partial class run in no defined order.
    private static readonly Lazy<JsonSerializerOptions> DialectOptions = new(() => new(ReconcilerJson.Options) { TypeInfoResolver = Default });

    public static JsonTypeInfo<Plan> PlanInfo => (JsonTypeInfo<Plan>)DialectOptions.Value.GetTypeInfo(typeof(Plan));
}
