// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Stake and unstake one ERC-20; the indexer projects staking positions from the events.
/// @notice No rewards here: rewards are granted off-chain by gatehouse and withdrawn through its
///         hot wallet, so this contract only has to be an exact ledger of who has staked what.
contract Staking {
    using SafeERC20 for IERC20;

    /// @notice `total` is the user's whole stake after the call, so a consumer that missed an
    ///         event can still resynchronise from the next one.
    event Staked(address indexed user, uint256 amount, uint256 total);
    event Unstaked(address indexed user, uint256 amount, uint256 total);

    error ZeroAmount();
    error InsufficientStake(uint256 requested, uint256 staked);

    IERC20 public immutable token;
    uint256 public totalStaked;
    mapping(address => uint256) private _stakes;

    constructor(IERC20 token_) {
        token = token_;
    }

    /// @notice Moves `amount` of the token from the caller (who approved it) into the stake.
    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        // Credit what actually arrived, so a fee-on-transfer token cannot make the ledger claim
        // more than the contract holds.
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        uint256 total = _stakes[msg.sender] + received;
        _stakes[msg.sender] = total;
        totalStaked += received;
        emit Staked(msg.sender, received, total);
    }

    /// @notice Returns `amount` of the caller's stake to the caller.
    function unstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 staked = _stakes[msg.sender];
        if (amount > staked) revert InsufficientStake(amount, staked);
        // Ledger first, transfer last: a reentrant token sees the reduced stake.
        uint256 total = staked - amount;
        _stakes[msg.sender] = total;
        totalStaked -= amount;
        emit Unstaked(msg.sender, amount, total);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice The current stake of `user`.
    function stakedOf(address user) external view returns (uint256) {
        return _stakes[user];
    }
}
