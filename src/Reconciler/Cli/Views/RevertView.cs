using Reconciler.Git;

namespace Reconciler.Views;

/// <summary>`reconciler revert`: the commit written, in git's words, and how to deploy it.</summary>
public static class RevertView
{
    public static string Render(RevertResult r) =>
        $"[{r.Branch} {r.NewSha[..12]}] {r.Message.Split('\n')[0]}\n" +
        $"reverts {r.RevertedSha}\n" +
        $"push it to deploy: git push origin {r.Branch}   (or open a pull request; its plan shows the downgrades)\n";
}
