using EdgeSelector.Learning.Evaluation.Data;

namespace EdgeSelector.Learning.Evaluation.Policies;

/// <summary>Loads a target policy from a CSV, telling the context-free and per-row forms apart by their header.</summary>
public static class PolicyFile
{
    /// <summary>
    /// <c>item_id,position,probability</c> → <see cref="ContextFreePolicy"/>; <c>probability</c> or <c>p_&lt;action&gt;</c>
    /// columns → <see cref="PerRowPolicy"/>.
    /// </summary>
    public static TargetPolicy Load(string path)
    {
        string[] header;
        using (var table = CsvTable.Open(path))
        {
            header = table.Header;
        }

        if (header.Contains("item_id"))
        {
            return ContextFreePolicy.Load(path);
        }

        if (PerRowPolicy.IsPerRowHeader(header))
        {
            return new PerRowPolicy(path);
        }

        throw new EvaluationInputException(
            $"{path}: not a policy file: expected header item_id,position,probability (context-free) or probability / p_<action> columns (per row); got {string.Join(',', header)}.");
    }
}
