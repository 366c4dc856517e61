//! Ledger accounts: what each holds money for, named the same way by every
//! instance without looking it up.

use entity::{CommunityId, HouseholdId, LedgerAccountId, LedgerAccountKind, MerchantId};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A ledger account: its kind and whose it is (the nil UUID for the
/// company's own accounts), and for a merchant's, in which community.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    pub kind: LedgerAccountKind,
    pub owner: Uuid,
    pub community: Option<CommunityId>,
}

impl Account {
    /// Money the property holds at WeChat Pay.
    pub const fn wechat_clearing() -> Self {
        Self::company(LedgerAccountKind::WechatClearing)
    }

    /// Refunds decided, not yet confirmed by the provider.
    pub const fn refunds_in_flight() -> Self {
        Self::company(LedgerAccountKind::RefundsInFlight)
    }

    /// What WeChat Pay kept as its fees, less what it returned.
    pub const fn provider_fees() -> Self {
        Self::company(LedgerAccountKind::ProviderFees)
    }

    /// Residents' payments held for a community's orders.
    pub fn escrow(community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::Escrow, community.as_uuid())
    }

    /// What the property earns from a community's orders: commission on
    /// merchants' sales, and its own sales (邻里专属).
    pub fn property_revenue(community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::PropertyRevenue, community.as_uuid())
    }

    pub fn fee_revenue(community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::FeeRevenue, community.as_uuid())
    }

    /// What the property owes a merchant for its sales in one community.
    pub fn merchant_payable(merchant: MerchantId, community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::MerchantPayable, merchant.as_uuid()).in_community(community)
    }

    /// A merchant's payouts approved from one community's balance, not yet
    /// paid.
    pub fn payouts_in_flight(merchant: MerchantId, community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::PayoutsInFlight, merchant.as_uuid()).in_community(community)
    }

    /// A merchant's one balance for all its communities, as it was kept
    /// before migration 24 moved it into per-community accounts; it holds
    /// nothing since (`verify` checks), and only history names it.
    pub fn merchant_wide(kind: LedgerAccountKind, merchant: MerchantId) -> Self {
        Self::of(kind, merchant.as_uuid())
    }

    const fn in_community(mut self, community: CommunityId) -> Self {
        self.community = Some(community);
        self
    }

    pub fn household_wallet(household: HouseholdId) -> Self {
        Self::of(LedgerAccountKind::HouseholdWallet, household.as_uuid())
    }

    pub fn fee_receivable(household: HouseholdId) -> Self {
        Self::of(LedgerAccountKind::FeeReceivable, household.as_uuid())
    }

    const fn company(kind: LedgerAccountKind) -> Self {
        Self::of(kind, Uuid::nil())
    }

    const fn of(kind: LedgerAccountKind, owner: Uuid) -> Self {
        Self {
            kind,
            owner,
            community: None,
        }
    }

    /// The account's id, derived from its kind, owner and community: every
    /// instance names the same account the same way without looking it up.
    pub fn id(&self) -> LedgerAccountId {
        let mut digest = Sha256::new()
            .chain_update(b"anjia-ledger-account\0")
            .chain_update(self.kind.as_str().as_bytes())
            .chain_update([0])
            .chain_update(self.owner.as_bytes());
        if let Some(c) = self.community {
            digest = digest
                .chain_update([0])
                .chain_update(c.as_uuid().as_bytes());
        }
        let digest = digest.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        LedgerAccountId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_s_id_depends_on_its_kind_and_owner_only() {
        let community = CommunityId::new();
        assert_eq!(
            Account::escrow(community).id(),
            Account::escrow(community).id()
        );
        assert_ne!(
            Account::escrow(community).id(),
            Account::property_revenue(community).id()
        );
        assert_ne!(
            Account::escrow(community).id(),
            Account::escrow(CommunityId::new()).id()
        );
    }
}
