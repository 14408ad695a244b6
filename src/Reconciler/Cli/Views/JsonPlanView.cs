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
    public static string Render(Plan plan) => System.Text.Encoding.UTF8.GetString(RenderUtf8(plan));

    /// <summary>The same document as UTF-8 bytes: a large plan is tens of MB, and going through a string would
    /// transcode it twice on its way to stdout or a file. Built in pooled chunks and copied once into an array of
    /// the exact size (a growing MemoryStream copied the document about three times over, all of it on the large
    /// object heap; docs/benchmarks/planner.md).</summary>
    public static byte[] RenderUtf8(Plan plan)
    {
        using var buffer = new ChunkedBuffer();
        WriteUtf8(buffer, plan);
        return buffer.ToArray();
    }

    /// <summary>The document straight to <paramref name="destination"/> (stdout, a file), in the serializer's
    /// small buffers: nothing the size of the plan is held in memory.</summary>
    public static void WriteUtf8(Stream destination, Plan plan)
    {
        WriteDocument(destination, plan);
        destination.WriteByte((byte)'\n');
    }

    /// <summary>One plan document, without a trailing newline (<see cref="PlanJsonWriter"/>: the serializer's bytes).</summary>
    private static void WriteDocument(Stream destination, Plan plan)
    {
        using var writer = new Utf8JsonWriter(destination, PlanJsonWriter.Options);
        PlanJsonWriter.Write(writer, plan);
    }

    /// <summary>Several environments' plans (docs/plan-json.md): one plan is its document, several are a JSON
    /// array of the documents, each as <see cref="WriteUtf8(Stream, Plan)"/> writes it. The documents are independent:
    /// while one is written, the next is rendered into memory on another core (a plan of 5,000 creates is ~18 MB of
    /// JSON and ~60 ms to render). The first document is streamed; at most two others are held at a time (the one
    /// being written and the next).</summary>
    public static void WriteUtf8(Stream destination, IReadOnlyList<Plan> plans)
    {
        if (plans.Count == 1)
        {
            WriteUtf8(destination, plans[0]);
            return;
        }
        static ChunkedBuffer Rendered(Plan plan)
        {
            var buffer = new ChunkedBuffer();
            WriteDocument(buffer, plan);
            return buffer;
        }
        destination.Write("[\n"u8);
        var next = Task.Run(() => Rendered(plans[1]));
        WriteDocument(destination, plans[0]); // without the document's newline
        for (var i = 1; i < plans.Count; i++)
        {
            destination.Write(",\n"u8);
            using var rendered = next.GetAwaiter().GetResult();
            var following = i + 1;
            if (following < plans.Count) next = Task.Run(() => Rendered(plans[following]));
            rendered.WriteTo(destination);
        }
        destination.Write("\n]\n"u8);
    }

    /// <summary><see cref="WriteUtf8(Stream, IReadOnlyList{Plan})"/> as one array of the exact size.</summary>
    public static byte[] RenderUtf8(IReadOnlyList<Plan> plans)
    {
        using var buffer = new ChunkedBuffer();
        WriteUtf8(buffer, plans);
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
