using Reconciler.Diff.Planning;
using Reconciler.UseCases;

namespace Reconciler.Views;

/// <summary>
/// `plan --format json`: the versioned JSON form of a plan (docs/plan-json.md, schemas/plan.schema.json), the plan
/// model in the product's one JSON dialect, never truncated; several environments as an array. One plan is the same
/// document that `plan --out` saves (<see cref="SavedPlanFile"/>, the engine's reader and writer of that file).
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

    /// <summary>The document straight to <paramref name="destination"/> (stdout, a file), in pieces of about 32 KB
    /// (<see cref="PlanJsonWriter.Write(Stream, Plan)"/>): nothing the size of the plan is held in memory.</summary>
    public static void WriteUtf8(Stream destination, Plan plan)
    {
        WriteDocument(destination, plan);
        destination.WriteByte((byte)'\n');
    }

    /// <summary>One plan document, without a trailing newline (<see cref="PlanJsonWriter"/>: the serializer's bytes).</summary>
    private static void WriteDocument(Stream destination, Plan plan) => PlanJsonWriter.Write(destination, plan);

    /// <summary>Several environments' plans (docs/plan-json.md): one plan is its document, several are a JSON
    /// array of the documents, each as <see cref="WriteUtf8(Stream, Plan)"/> writes it, streamed one after the other.
    /// Rendering the next document into memory on another core while one was written used to save time; it no longer
    /// does: since the writer's fast path a document renders about as fast as fresh memory takes it in (a page fault
    /// per 4 KB), and streaming them in turn is faster and holds none (docs/benchmarks.md, "Start-up of the shipped
    /// build, and less fresh memory").</summary>
    public static void WriteUtf8(Stream destination, IReadOnlyList<Plan> plans)
    {
        if (plans.Count == 1)
        {
            WriteUtf8(destination, plans[0]);
            return;
        }
        destination.Write("[\n"u8);
        for (var i = 0; i < plans.Count; i++)
        {
            if (i > 0) destination.Write(",\n"u8);
            WriteDocument(destination, plans[i]); // without the document's newline
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
}
