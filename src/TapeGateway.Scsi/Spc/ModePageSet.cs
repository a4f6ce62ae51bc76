namespace TapeGateway.Scsi.Spc;

/// <summary>
/// Mode pages of one logical unit with current, changeable, default and saved values (SPC-4 §7.5). (Skeleton: the
/// SPC work fills in MODE SENSE/SELECT; this holds the Control page's D_SENSE bit the pipeline needs.)
/// </summary>
public class ModePageSet
{
    public bool DescriptorSense { get; set; }

    public virtual void ResetToSaved()
    {
    }
}
